package registration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

const testRegistrationID = "abcde12345"

// csrBuilder makes agent CSRs for tests: a valid bootstrap request unless
// told otherwise.
type csrBuilder struct {
	t        *testing.T
	name     string
	key      crypto.Signer
	subject  pkix.Name
	dns      []string
	signer   string
	usages   []certificatesv1.KeyUsage
	lifetime *time.Duration
	user     string
	groups   []string
	ann      map[string]string
}

var testKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

func makeCSR(t *testing.T, cluster string) *csrBuilder {
	life := 24 * time.Hour
	return &csrBuilder{
		t: t, name: BootstrapCSRName(cluster, testRegistrationID), key: testKey,
		subject: CertificateRequestTemplate(cluster, testRegistrationID).Subject,
		signer:  SignerName, usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, lifetime: &life,
		user: BootstrapUserPrefix + "tok123", groups: []string{"system:bootstrappers", BootstrapGroup, "system:authenticated"},
	}
}

func (b *csrBuilder) Key(k crypto.Signer) *csrBuilder                 { b.key = k; return b }
func (b *csrBuilder) CN(cn string) *csrBuilder                        { b.subject.CommonName = cn; return b }
func (b *csrBuilder) Orgs(o ...string) *csrBuilder                    { b.subject.Organization = o; return b }
func (b *csrBuilder) OU(ou string) *csrBuilder                        { b.subject.OrganizationalUnit = []string{ou}; return b }
func (b *csrBuilder) DNS(n string) *csrBuilder                        { b.dns = append(b.dns, n); return b }
func (b *csrBuilder) Signer(s string) *csrBuilder                     { b.signer = s; return b }
func (b *csrBuilder) Usages(u ...certificatesv1.KeyUsage) *csrBuilder { b.usages = u; return b }
func (b *csrBuilder) Lifetime(d *time.Duration) *csrBuilder           { b.lifetime = d; return b }
func (b *csrBuilder) User(u string, groups ...string) *csrBuilder {
	b.user, b.groups = u, groups
	return b
}
func (b *csrBuilder) Annotation(k, v string) *csrBuilder {
	if b.ann == nil {
		b.ann = map[string]string{}
	}
	b.ann[k] = v
	return b
}

// Renewal makes the request one from the cluster's own agent.
func (b *csrBuilder) Renewal(cluster string) *csrBuilder {
	b.name = RenewalCSRName(cluster)
	return b.User(AgentUser(cluster), AgentsGroup, RegistrationGroup(testRegistrationID), "system:authenticated")
}

func (b *csrBuilder) Obj() *certificatesv1.CertificateSigningRequest {
	b.t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: b.subject, DNSNames: b.dns}, b.key)
	if err != nil {
		b.t.Fatal(err)
	}
	var life time.Duration
	if b.lifetime != nil {
		life = *b.lifetime
	}
	csr := NewAgentCSR(b.name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), life)
	if b.lifetime == nil {
		csr.Spec.ExpirationSeconds = nil
	}
	csr.Annotations = b.ann
	csr.Spec.SignerName, csr.Spec.Usages = b.signer, b.usages
	csr.Spec.Username, csr.Spec.Groups = b.user, b.groups
	return csr
}

func rsaKey(t *testing.T, bits int) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ptr[T any](v T) *T { return &v }
