package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/flotilla-io/flotilla/internal/pki"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// agentDir writes an agent directory with a certificate of the hub CA
// for cluster, valid from notBefore for life.
func agentDir(t *testing.T, cluster, org string, notBefore time.Time, life time.Duration) (string, *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test-hub-ca")
	if err != nil {
		t.Fatal(err)
	}
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: ca.Cert.SerialNumber, Subject: registration.CertificateRequestTemplate(cluster, "abcde12345").Subject,
		NotBefore: notBefore, NotAfter: notBefore.Add(life), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	tmpl.Subject.Organization = []string{registration.AgentsGroup, org}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := encodeCertAndKey(der, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, CertFile), pair, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, CAFile), pki.CertPEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := saveConfig(dir, &Config{Hub: "https://hub.example.com:6443", Cluster: cluster, CertLifetime: metav1.Duration{Duration: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return dir, cert
}

func TestManagerLoadsAndSchedulesRenewal(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	dir, cert := agentDir(t, "edge-1", registration.RegistrationGroup("abcde12345"), start, 10*time.Hour)
	m, err := NewManager(ManagerOptions{Dir: dir, Clock: clocktesting.NewFakeClock(start.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if m.Cluster() != "edge-1" || m.id != "abcde12345" || m.lifetime != time.Hour {
		t.Errorf("manager cluster %q, registration %q, lifetime %s", m.Cluster(), m.id, m.lifetime)
	}
	if m.Current().Leaf.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		t.Errorf("the manager presents another certificate")
	}
	for range 50 {
		at := m.RenewAt()
		if at.Before(start.Add(7*time.Hour)) || at.After(start.Add(7*time.Hour+18*time.Minute)) {
			t.Fatalf("RenewAt = %s, want 70%% to 73%% into the certificate's 10h", at.Sub(start))
		}
	}
	cfg := m.RESTConfig()
	if cfg.Host != "https://hub.example.com:6443" || cfg.Transport == nil || len(cfg.CertData) > 0 || cfg.CertFile != "" {
		t.Errorf("RESTConfig: host %q, transport %v, static certificate %v", cfg.Host, cfg.Transport != nil, len(cfg.CertData) > 0 || cfg.CertFile != "")
	}
}

func TestNewManagerRefuses(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakeClock(start.Add(time.Hour))
	tests := map[string]struct {
		dir     func(t *testing.T) string
		wantErr string
	}{
		"an expired certificate": {
			dir: func(t *testing.T) string {
				d, _ := agentDir(t, "edge-1", registration.RegistrationGroup("abcde12345"), start.Add(-time.Hour), time.Hour)
				return d
			},
			wantErr: "expired at 2026-05-01T12:00:00Z: register the cluster again",
		},
		"another cluster's certificate": {
			dir: func(t *testing.T) string {
				d, _ := agentDir(t, "edge-2", registration.RegistrationGroup("abcde12345"), start, time.Hour*10)
				b, _ := os.ReadFile(filepath.Join(d, ConfigFile))
				_ = os.WriteFile(filepath.Join(d, ConfigFile), []byte(strings.ReplaceAll(string(b), "edge-2", "edge-1")), 0o600)
				return d
			},
			wantErr: `not for cluster edge-1`,
		},
		"no registration in the certificate": {
			dir: func(t *testing.T) string {
				d, _ := agentDir(t, "edge-1", "someone-else", start, time.Hour*10)
				return d
			},
			wantErr: "carries no registration",
		},
		"not registered": {
			dir:     func(t *testing.T) string { return t.TempDir() },
			wantErr: "register the cluster first",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewManager(ManagerOptions{Dir: tc.dir(t), Clock: clock})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewManager error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestPendingKeySurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	k1, id1, err := pendingKey(dir, "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, PendingKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pending key file: %v, mode %v", err, st.Mode().Perm())
	}
	k2, id2, err := pendingKey(dir, "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 || !samePublicKeyOf(t, k1, k2) {
		t.Errorf("a second run got another registration: %s vs %s", id1, id2)
	}
	_, id3, err := pendingKey(dir, "edge-2")
	if err != nil {
		t.Fatal(err)
	}
	if id3 == id1 {
		t.Errorf("another cluster reused the pending registration")
	}
}

func samePublicKeyOf(t *testing.T, a, b crypto.Signer) bool {
	t.Helper()
	x, err1 := x509.MarshalPKIXPublicKey(a.Public())
	y, err2 := x509.MarshalPKIXPublicKey(b.Public())
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func TestRegisterValidates(t *testing.T) {
	base := func() RegisterOptions {
		return RegisterOptions{HubURL: "https://hub:6443", Token: testToken, CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)},
			Cluster: "edge-1", Dir: t.TempDir(), CertLifetime: time.Hour}
	}
	tests := map[string]struct {
		mutate  func(*RegisterOptions)
		wantErr string
	}{
		"bad name":         {func(o *RegisterOptions) { o.Cluster = "Edge_1" }, "invalid cluster name"},
		"bad label":        {func(o *RegisterOptions) { o.Labels = map[string]string{"a b": "c"} }, "invalid label key"},
		"too short a life": {func(o *RegisterOptions) { o.CertLifetime = time.Minute }, "--cert-lifetime"},
		"too long a life":  {func(o *RegisterOptions) { o.CertLifetime = 365 * 24 * time.Hour }, "--cert-lifetime"},
		"bad token":        {func(o *RegisterOptions) { o.Token = "x" }, "--token"},
		"a long region":    {func(o *RegisterOptions) { o.Region = strings.Repeat("r", 64) }, "--region"},
		"already registered": {func(o *RegisterOptions) {
			_ = os.WriteFile(filepath.Join(o.Dir, CertFile), []byte("x"), 0o600)
		}, "already holds an agent identity"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := base()
			tc.mutate(&o)
			if err := o.validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
	o := base()
	if err := o.validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
