package registration

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RequestKind says how an agent CSR was authenticated.
type RequestKind string

const (
	// KindBootstrap is a first certificate, requested with a bootstrap
	// token.
	KindBootstrap RequestKind = "Bootstrap"
	// KindRenewal is a new certificate, requested with the agent's current
	// one.
	KindRenewal RequestKind = "Renewal"
)

// Request is what an agent CSR asks for, once checked.
type Request struct {
	Kind RequestKind
	// Cluster is the cluster name of the requested identity.
	Cluster string
	// RegistrationID is the registration the certificate belongs to.
	RegistrationID string
	// TokenID is the bootstrap token's ID (KindBootstrap only).
	TokenID string
	// Lifetime is the requested certificate lifetime.
	Lifetime time.Duration
}

// DenyError is a CSR that must be denied: a retry cannot change the answer.
type DenyError struct{ Reason, Message string }

func (e *DenyError) Error() string { return e.Message }

// Reasons of the Denied condition.
const (
	ReasonInvalidRequest = "InvalidRequest"
	ReasonInvalidToken   = "InvalidToken"
	ReasonNotAuthorized  = "NotAuthorized"
	ReasonNameTaken      = "ClusterNameTaken"
	ReasonNotRegistered  = "NotRegistered"
	ReasonRejected       = "RejectedByAdministrator"
)

func deny(reason, format string, args ...any) *DenyError {
	return &DenyError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// CSRCluster returns the cluster whose agent identity a CSR asks
// Flotilla's signer for, or "" when it asks for something else. It reads
// only the subject's common name: it does not check the request.
func CSRCluster(csr *certificatesv1.CertificateSigningRequest) string {
	cluster, _ := agentCluster(csr)
	return cluster
}

// agentCluster returns the cluster name in an agent CSR's common name, or
// "" when the CSR is not for Flotilla's agents.
func agentCluster(csr *certificatesv1.CertificateSigningRequest) (string, *x509.CertificateRequest) {
	if csr.Spec.SignerName != SignerName {
		return "", nil
	}
	b, _ := pem.Decode(csr.Spec.Request)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return "", nil
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return "", nil
	}
	cluster, ok := strings.CutPrefix(req.Subject.CommonName, AgentUserPrefix)
	if !ok {
		return "", nil
	}
	return cluster, req
}

// ParseAgentCSR checks an agent CSR against everything the approver can
// tell from the CSR alone. It returns (nil, nil) for CSRs that are not for
// Flotilla's agents, and a *DenyError for agent CSRs that must be denied.
func ParseAgentCSR(csr *certificatesv1.CertificateSigningRequest) (*Request, error) {
	cluster, req := agentCluster(csr)
	if cluster == "" {
		return nil, nil
	}
	if err := ValidateClusterName(cluster); err != nil {
		return nil, deny(ReasonInvalidRequest, "%v", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, deny(ReasonInvalidRequest, "the certificate request's signature does not verify: %v", err)
	}
	id, err := checkSubject(req)
	if err != nil {
		return nil, err
	}
	if err := checkKey(req.PublicKey); err != nil {
		return nil, err
	}
	if !slices.Equal(csr.Spec.Usages, []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}) {
		return nil, deny(ReasonInvalidRequest, "usages %v: an agent certificate has exactly [client auth]", csr.Spec.Usages)
	}
	if csr.Spec.ExpirationSeconds == nil {
		return nil, deny(ReasonInvalidRequest, "spec.expirationSeconds is not set: an agent certificate lives at most %s", MaxCertLifetime)
	}
	lifetime := time.Duration(*csr.Spec.ExpirationSeconds) * time.Second
	if lifetime < MinCertLifetime || lifetime > MaxCertLifetime {
		return nil, deny(ReasonInvalidRequest, "spec.expirationSeconds asks for %s: an agent certificate lives between %s and %s", lifetime, MinCertLifetime, MaxCertLifetime)
	}
	r := &Request{Cluster: cluster, RegistrationID: id, Lifetime: lifetime}
	switch user := csr.Spec.Username; {
	case strings.HasPrefix(user, BootstrapUserPrefix):
		if !slices.Contains(csr.Spec.Groups, BootstrapGroup) {
			return nil, deny(ReasonInvalidToken, "requested with bootstrap token %s, which is not a Flotilla registration token (its groups lack %s); create one with `flotilla token create`",
				strings.TrimPrefix(user, BootstrapUserPrefix), BootstrapGroup)
		}
		r.Kind, r.TokenID = KindBootstrap, strings.TrimPrefix(user, BootstrapUserPrefix)
	case user == AgentUser(cluster):
		if !slices.Contains(csr.Spec.Groups, RegistrationGroup(id)) {
			return nil, deny(ReasonNotAuthorized, "the agent of cluster %s asks for a certificate of registration %s, which is not its own", cluster, id)
		}
		r.Kind = KindRenewal
	default:
		return nil, deny(ReasonNotAuthorized, "requested by %q, which is neither a Flotilla bootstrap token nor the agent of cluster %s", user, cluster)
	}
	return r, nil
}

// checkSubject requires exactly the common name (checked by the caller) and
// the two organizations of an agent: AgentsGroup and one registration
// group. It returns the registration ID.
func checkSubject(req *x509.CertificateRequest) (string, error) {
	s := req.Subject
	if len(s.Country)+len(s.OrganizationalUnit)+len(s.Locality)+len(s.Province)+len(s.StreetAddress)+len(s.PostalCode) > 0 || s.SerialNumber != "" {
		return "", deny(ReasonInvalidRequest, "the subject has fields besides the common name and organizations")
	}
	if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		return "", deny(ReasonInvalidRequest, "the request carries subject alternative names; an agent certificate has none")
	}
	var id string
	hasAgents := false
	for _, o := range s.Organization {
		switch {
		case o == AgentsGroup && !hasAgents:
			hasAgents = true
		case strings.HasPrefix(o, RegistrationGroupPrefix) && id == "":
			id = strings.TrimPrefix(o, RegistrationGroupPrefix)
		default:
			return "", deny(ReasonInvalidRequest, "organization %q: an agent certificate has exactly %s and one %s<id>", o, AgentsGroup, RegistrationGroupPrefix)
		}
	}
	if !hasAgents || !ValidRegistrationID(id) {
		return "", deny(ReasonInvalidRequest, "organizations %v: an agent certificate has exactly %s and one %s<id> (10 lower-case letters or digits)",
			s.Organization, AgentsGroup, RegistrationGroupPrefix)
	}
	return id, nil
}

// checkKey accepts ECDSA P-256 and P-384, Ed25519 and RSA of 2048 bits or
// more.
func checkKey(k any) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return deny(ReasonInvalidRequest, "ECDSA curve %s: use P-256 or P-384", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
		return deny(ReasonInvalidRequest, "RSA key of %d bits: use 2048 or more", k.N.BitLen())
	}
	return deny(ReasonInvalidRequest, "unsupported key type %T", k)
}

// csrFinished reports whether a CSR was approved, denied or failed.
func csrFinished(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
			return true
		}
	}
	return false
}

// CertificateRequestTemplate is the subject of an agent's certificate
// requests: what ParseAgentCSR accepts.
func CertificateRequestTemplate(cluster, registrationID string) *x509.CertificateRequest {
	return &x509.CertificateRequest{Subject: pkix.Name{
		CommonName:   AgentUser(cluster),
		Organization: []string{AgentsGroup, RegistrationGroup(registrationID)},
	}}
}

// NewAgentCSR wraps a PEM certificate request into the CSR object an agent
// sends.
func NewAgentCSR(name string, requestPEM []byte, lifetime time.Duration) *certificatesv1.CertificateSigningRequest {
	secs := int32(lifetime / time.Second)
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           requestPEM,
			SignerName:        SignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			ExpirationSeconds: &secs,
		},
	}
}
