package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-io/flotilla/internal/registration"
)

// ErrDenied is returned when the hub denies a certificate request.
var ErrDenied = errors.New("the hub denied the certificate request")

// newKey returns a fresh ECDSA P-256 key.
func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// certificateRequest is the PEM request for an agent identity with key.
func certificateRequest(cluster, registrationID string, key crypto.Signer) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, registration.CertificateRequestTemplate(cluster, registrationID), key)
	if err != nil {
		return nil, fmt.Errorf("make the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// waitForCertificate polls a CSR until it is issued, denied or failed, or
// until timeout. waiting, when set, runs once the request has waited
// patience.
func waitForCertificate(ctx context.Context, cs kubernetes.Interface, name string, timeout, patience time.Duration, waiting func()) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	told := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsUnauthorized(err):
			return nil, fmt.Errorf("the hub stopped accepting the credentials of this request while it waited (a bootstrap token that expired or was revoked, or a certificate that expired): %w", err)
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("certificate signing request %s disappeared from the hub before it was issued", name)
		case err != nil && ctx.Err() == nil:
			// Transient: the hub restarts, the network drops; keep polling.
		case err == nil:
			for _, c := range csr.Status.Conditions {
				switch c.Type {
				case certificatesv1.CertificateDenied:
					return nil, fmt.Errorf("%w %s (%s): %s", ErrDenied, name, c.Reason, c.Message)
				case certificatesv1.CertificateFailed:
					return nil, fmt.Errorf("the hub's signer failed to issue certificate %s (%s): %s", name, c.Reason, c.Message)
				}
			}
			if len(csr.Status.Certificate) > 0 {
				return csr.Status.Certificate, nil
			}
		}
		if waiting != nil && !told && time.Since(start) >= patience {
			told = true
			waiting()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("certificate signing request %s was not approved within %s", name, timeout)
			}
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// issuedFor parses the first certificate of a PEM chain and checks that it
// certifies key for the cluster's agent.
func issuedFor(chain []byte, key crypto.Signer, cluster string) (*x509.Certificate, error) {
	certs, err := registration.ParseCertificates(chain)
	if err != nil {
		return nil, fmt.Errorf("the issued certificate: %w", err)
	}
	cert := certs[0]
	want, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, want) {
		return nil, errors.New("the issued certificate is not for this agent's key")
	}
	if cert.Subject.CommonName != registration.AgentUser(cluster) {
		return nil, fmt.Errorf("the issued certificate is for %q, not %q", cert.Subject.CommonName, registration.AgentUser(cluster))
	}
	return cert, nil
}

// registrationIDOf returns the registration ID a certificate carries.
func registrationIDOf(cert *x509.Certificate) (string, error) {
	for _, o := range cert.Subject.Organization {
		if id, ok := strings.CutPrefix(o, registration.RegistrationGroupPrefix); ok && registration.ValidRegistrationID(id) {
			return id, nil
		}
	}
	return "", fmt.Errorf("certificate %q carries no registration (organization %s<id>)", cert.Subject.CommonName, registration.RegistrationGroupPrefix)
}
