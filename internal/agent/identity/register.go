package identity

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-io/flotilla/internal/registration"
)

// RegisterOptions describe a registration.
type RegisterOptions struct {
	// HubURL, Token and CACertHashes find and prove the hub (Discover).
	HubURL       string
	Token        string
	CACertHashes []string
	// TokenBeforeProof: see DiscoveryOptions.
	TokenBeforeProof bool
	// Cluster is the name to register under.
	Cluster string
	// Dir is the agent's directory.
	Dir string
	// Labels, Region, Zone and Provider describe the cluster to the hub's
	// scheduler.
	Labels                 map[string]string
	Region, Zone, Provider string
	// ClusterKubeconfig and ClusterContext reach the local cluster, for
	// the agent.
	ClusterKubeconfig, ClusterContext string
	// CertLifetime is the lifetime of the agent's certificates. Default
	// 24h.
	CertLifetime time.Duration
	// Timeout bounds the wait for approval. Default 15m.
	Timeout time.Duration
	// Progress receives one line per step; may be nil.
	Progress io.Writer
}

// Registration is a finished registration.
type Registration struct {
	Cluster        string
	RegistrationID string
	// NotAfter is when the first certificate expires; the agent renews it
	// well before.
	NotAfter time.Time
	// Dir is the agent's directory.
	Dir string
}

func (o *RegisterOptions) say(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// validate checks what can be checked without the network.
func (o *RegisterOptions) validate() error {
	if err := registration.ValidateClusterName(o.Cluster); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	for k, v := range o.Labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("invalid label key %q: %v", k, errs)
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("invalid value for label %q: %v", k, errs)
		}
	}
	for flag, v := range map[string]string{"--region": o.Region, "--zone": o.Zone, "--provider": o.Provider} {
		if len(v) > 63 {
			return fmt.Errorf("%s is longer than 63 characters", flag)
		}
	}
	if o.CertLifetime < registration.MinCertLifetime || o.CertLifetime > registration.MaxCertLifetime {
		return fmt.Errorf("--cert-lifetime %s: it must be between %s and %s", o.CertLifetime, registration.MinCertLifetime, registration.MaxCertLifetime)
	}
	if _, _, err := registration.ParseToken(o.Token); err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, CertFile)); err == nil {
		return fmt.Errorf("%s already holds an agent identity; start it with `flotilla agent --dir %s`, or remove the directory to register again", o.Dir, o.Dir)
	}
	return nil
}

// Register registers the local cluster with a hub: it proves the hub
// (Discover), asks for a client certificate with the bootstrap token, waits
// for the hub to approve it, and writes the agent's directory. A
// registration interrupted while it waits resumes when run again with the
// same directory, name and token.
func Register(ctx context.Context, o RegisterOptions) (*Registration, error) {
	o.CertLifetime = lifetimeOr(o.CertLifetime, registration.DefaultCertLifetime)
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Minute
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	ca, err := Discover(ctx, DiscoveryOptions{HubURL: o.HubURL, Token: o.Token, CACertHashes: o.CACertHashes, TokenBeforeProof: o.TokenBeforeProof,
		Progress: func(format string, args ...any) { o.say(format, args...) }})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	tokenID, _, _ := registration.ParseToken(o.Token)
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: o.HubURL, BearerToken: o.Token, UserAgent: "flotilla-register", Timeout: 30 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
	})
	if err != nil {
		return nil, err
	}
	var (
		key  crypto.Signer
		id   string
		name string
	)
	for attempt := 0; ; attempt++ {
		if key, id, err = pendingKey(o.Dir, o.Cluster); err != nil {
			return nil, err
		}
		name = registration.BootstrapCSRName(o.Cluster, id)
		err = o.sendCSR(ctx, cs, name, key, id, tokenID)
		if errors.Is(err, errStaleCSR) && attempt == 0 {
			// An earlier run's request that cannot succeed: start afresh.
			if err := os.Remove(filepath.Join(o.Dir, PendingKeyFile)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	o.say("waiting for the hub to approve certificate signing request %s", name)
	chain, err := waitForCertificate(ctx, cs, name, o.Timeout, 15*time.Second, func() {
		o.say("still waiting: if bootstrap token %s needs a second approval, run `flotilla accept %s` on the hub", tokenID, o.Cluster)
	})
	if err != nil {
		return nil, err
	}
	cert, err := issuedFor(chain, key, o.Cluster)
	if err != nil {
		return nil, err
	}
	if err := writeIdentity(o, ca, cert, key); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(o.Dir, PendingKeyFile))
	o.say("approved: the certificate of %s is valid until %s", cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.RFC3339))
	return &Registration{Cluster: o.Cluster, RegistrationID: id, NotAfter: cert.NotAfter, Dir: o.Dir}, nil
}

// sendCSR creates the registration's CSR, or finds the one an earlier run
// sent with the same key.
func (o *RegisterOptions) sendCSR(ctx context.Context, cs kubernetes.Interface, name string, key crypto.Signer, id, tokenID string) error {
	req, err := certificateRequest(o.Cluster, id, key)
	if err != nil {
		return err
	}
	csr := registration.NewAgentCSR(name, req, o.CertLifetime)
	csr.Annotations = map[string]string{}
	if len(o.Labels) > 0 {
		b, err := json.Marshal(o.Labels)
		if err != nil {
			return err
		}
		csr.Annotations[registration.AnnotationLabels] = string(b)
	}
	for k, v := range map[string]string{registration.AnnotationRegion: o.Region, registration.AnnotationZone: o.Zone, registration.AnnotationProvider: o.Provider} {
		if v != "" {
			csr.Annotations[k] = v
		}
	}
	_, err = cs.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
	switch {
	case err == nil:
		o.say("requested a certificate for %s (certificate signing request %s)", registration.AgentUser(o.Cluster), name)
		return nil
	case apierrors.IsAlreadyExists(err):
		prev, gerr := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("read certificate signing request %s: %w", name, gerr)
		}
		if !samePublicKey(prev.Spec.Request, key) || prev.Spec.Username != registration.BootstrapUserPrefix+tokenID || finished(prev) {
			return errStaleCSR
		}
		o.say("resuming certificate signing request %s", name)
		return nil
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: the hub no longer accepts it (it expired or was revoked a moment ago)", ErrTokenRejected)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("the hub does not let this bootstrap token create certificate signing requests (%v): is it a Flotilla token from `flotilla token create`?", err)
	}
	return fmt.Errorf("create certificate signing request %s: %w", name, err)
}

// errStaleCSR is an earlier run's request that this run cannot resume:
// sent with another token, or already denied.
var errStaleCSR = errors.New("stale certificate signing request")

// finished reports whether a CSR was denied or failed.
func finished(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
			return true
		}
	}
	return false
}

// samePublicKey reports whether a PEM certificate request is for key.
func samePublicKey(reqPEM []byte, key crypto.Signer) bool {
	b, _ := pem.Decode(reqPEM)
	if b == nil {
		return false
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return false
	}
	a, err1 := x509.MarshalPKIXPublicKey(req.PublicKey)
	k, err2 := x509.MarshalPKIXPublicKey(key.Public())
	return err1 == nil && err2 == nil && string(a) == string(k)
}

// Headers of PendingKeyFile.
const (
	pendingHeaderCluster        = "Cluster"
	pendingHeaderRegistrationID = "Registration-Id"
)

// pendingKey returns the key and registration ID of an unfinished
// registration of cluster in dir, or makes new ones and writes them before
// anything is sent.
func pendingKey(dir, cluster string) (crypto.Signer, string, error) {
	path := filepath.Join(dir, PendingKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk != nil && blk.Headers[pendingHeaderCluster] == cluster && registration.ValidRegistrationID(blk.Headers[pendingHeaderRegistrationID]) {
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if s, ok := k.(crypto.Signer); err == nil && ok {
				return s, blk.Headers[pendingHeaderRegistrationID], nil
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	key, err := newKey()
	if err != nil {
		return nil, "", err
	}
	id, err := registration.NewRegistrationID()
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der,
		Headers: map[string]string{pendingHeaderCluster: cluster, pendingHeaderRegistrationID: id}})
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return nil, "", err
	}
	return key, id, nil
}

// writeIdentity writes the agent's directory: CA, certificate and key,
// kubeconfig, then the configuration.
func writeIdentity(o RegisterOptions, ca []byte, cert *x509.Certificate, key crypto.Signer) error {
	pair, err := encodeCertAndKey(cert.Raw, key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, CAFile), ca, 0o644); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, CertFile), pair, 0o600); err != nil {
		return err
	}
	if err := writeKubeconfig(o.Dir, o.HubURL, o.Cluster); err != nil {
		return err
	}
	kc := o.ClusterKubeconfig
	if kc != "" {
		if abs, err := filepath.Abs(kc); err == nil {
			kc = abs
		}
	}
	return saveConfig(o.Dir, &Config{Hub: o.HubURL, Cluster: o.Cluster, ClusterKubeconfig: kc,
		ClusterContext: o.ClusterContext, CertLifetime: metav1.Duration{Duration: o.CertLifetime}})
}
