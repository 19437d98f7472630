package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/connrotation"
	"k8s.io/utils/clock"

	"github.com/flotilla-io/flotilla/internal/registration"
)

// DefaultRenewFraction is the share of a certificate's lifetime after
// which the agent renews it.
const DefaultRenewFraction = 0.7

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Dir is the agent's directory, written by Register.
	Dir string
	// CertLifetime is the lifetime to ask for; zero means the one in the
	// directory's configuration.
	CertLifetime time.Duration
	// RenewFraction is the share of a certificate's lifetime after which
	// it is renewed, in (0, 1). Default DefaultRenewFraction; up to a tenth
	// of the rest is added at random, so that agents registered together do
	// not renew together.
	RenewFraction float64
	// ApprovalTimeout bounds the wait for a renewal's approval. Default 5m.
	ApprovalTimeout time.Duration
	// Clock is for tests.
	Clock clock.Clock
	// Log receives the manager's messages.
	Log logr.Logger
}

// Manager holds the agent's identity and renews its certificate before it
// expires. Clients built from RESTConfig present the current certificate:
// a renewal swaps it in memory and on disk, then closes the hub
// connections, so that the next requests (and watches, which their
// informers resume from where they were) use the new one. The process
// keeps running throughout.
type Manager struct {
	dir      string
	cfg      *Config
	ca       []byte
	lifetime time.Duration
	fraction float64
	timeout  time.Duration
	clock    clock.Clock
	log      logr.Logger

	mu      sync.RWMutex
	current *tls.Certificate
	id      string

	dialer     *connrotation.Dialer
	restConfig *rest.Config
}

// NewManager loads the identity in o.Dir.
func NewManager(o ManagerOptions) (*Manager, error) {
	cfg, err := LoadConfig(o.Dir)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(o.Dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("the hub's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", filepath.Join(o.Dir, CAFile))
	}
	pair, leaf, err := loadCertAndKey(filepath.Join(o.Dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("the agent's certificate: %w", err)
	}
	id, err := registrationIDOf(leaf)
	if err != nil {
		return nil, err
	}
	if leaf.Subject.CommonName != registration.AgentUser(cfg.Cluster) {
		return nil, fmt.Errorf("%s is a certificate for %q, not for cluster %s", filepath.Join(o.Dir, CertFile), leaf.Subject.CommonName, cfg.Cluster)
	}
	m := &Manager{
		dir: o.Dir, cfg: cfg, ca: ca, current: pair, id: id,
		lifetime: lifetimeOr(o.CertLifetime, lifetimeOr(cfg.CertLifetime.Duration, registration.DefaultCertLifetime)),
		fraction: o.RenewFraction, timeout: o.ApprovalTimeout, clock: o.Clock, log: o.Log,
	}
	if m.fraction <= 0 || m.fraction >= 1 {
		m.fraction = DefaultRenewFraction
	}
	if m.timeout == 0 {
		m.timeout = 5 * time.Minute
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if now := m.clock.Now(); !now.Before(leaf.NotAfter) {
		return nil, fmt.Errorf("the agent's certificate expired at %s: register the cluster again (`flotilla register`)", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	m.dialer = connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	tlsConfig := &tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return m.Current(), nil
		},
	}
	m.restConfig = &rest.Config{
		Host:      cfg.Hub,
		UserAgent: "flotilla-agent/" + cfg.Cluster,
		Transport: utilnet.SetTransportDefaults(&http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSHandshakeTimeout: 10 * time.Second,
			TLSClientConfig:     tlsConfig,
			MaxIdleConnsPerHost: 25,
			DialContext:         m.dialer.DialContext,
		}),
	}
	return m, nil
}

// Config is the agent's configuration.
func (m *Manager) Config() *Config { return m.cfg }

// Cluster is the agent's cluster.
func (m *Manager) Cluster() string { return m.cfg.Cluster }

// Current is the certificate the agent presents now.
func (m *Manager) Current() *tls.Certificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.current
}

// RESTConfig is a configuration for the hub with the agent's identity.
// Every client made from it shares one transport, which presents the
// current certificate.
func (m *Manager) RESTConfig() *rest.Config { return rest.CopyConfig(m.restConfig) }

// RenewAt is when the current certificate is due for renewal.
func (m *Manager) RenewAt() time.Time {
	leaf := m.Current().Leaf
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	f := m.fraction + rand.Float64()*(1-m.fraction)/10
	return leaf.NotBefore.Add(time.Duration(float64(life) * f))
}

// Run renews the certificate whenever it is due, until ctx ends. A failed
// renewal is retried with backoff for as long as the current certificate
// is valid; after that the agent can no longer reach the hub and must be
// registered again, which Run reports as its error.
func (m *Manager) Run(ctx context.Context) error {
	backoff := 5 * time.Second
	next := m.RenewAt()
	m.log.Info("client certificate loaded", "notAfter", m.Current().Leaf.NotAfter.UTC(), "renewAt", next.UTC())
	for {
		if err := m.sleepUntil(ctx, next); err != nil {
			return nil
		}
		err := m.Rotate(ctx)
		if err == nil {
			backoff = 5 * time.Second
			next = m.RenewAt()
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		notAfter := m.Current().Leaf.NotAfter
		if !m.clock.Now().Before(notAfter) {
			return fmt.Errorf("the agent's certificate expired at %s and could not be renewed (%w): register the cluster again", notAfter.UTC().Format(time.RFC3339), err)
		}
		m.log.Error(err, "renew the client certificate; retrying", "in", backoff, "notAfter", notAfter.UTC())
		next = m.clock.Now().Add(backoff)
		if backoff *= 2; backoff > 5*time.Minute {
			backoff = 5 * time.Minute
		}
	}
}

func (m *Manager) sleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(m.clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	timer := m.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C():
		return nil
	}
}

// Rotate renews the certificate now: a new key, a CSR authenticated by
// the current certificate, and once the hub issues it, the swap.
func (m *Manager) Rotate(ctx context.Context) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	m.mu.RLock()
	id := m.id
	m.mu.RUnlock()
	req, err := certificateRequest(m.cfg.Cluster, id, key)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(m.RESTConfig())
	if err != nil {
		return err
	}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	name := registration.RenewalCSRName(m.cfg.Cluster)
	// The agent may read and delete one CSR name only: the previous
	// renewal's request goes first.
	if err := csrs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("the hub forbids this agent to renew its certificate: the cluster was unjoined or its registration revoked (%w)", err)
		}
		return fmt.Errorf("delete the previous renewal request %s: %w", name, err)
	}
	if _, err := csrs.Create(ctx, registration.NewAgentCSR(name, req, m.lifetime), metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("renewal request %s is still being deleted; retrying", name)
		}
		return fmt.Errorf("create renewal request %s: %w", name, err)
	}
	chain, err := waitForCertificate(ctx, cs, name, m.timeout, 0, nil)
	if err != nil {
		if errors.Is(err, ErrDenied) {
			return fmt.Errorf("%w; the registration was probably revoked (`flotilla unjoin`)", err)
		}
		return err
	}
	cert, err := issuedFor(chain, key, m.cfg.Cluster)
	if err != nil {
		return err
	}
	pair, err := encodeCertAndKey(cert.Raw, key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(m.dir, CertFile), pair, 0o600); err != nil {
		return fmt.Errorf("write the new certificate: %w", err)
	}
	m.mu.Lock()
	m.current = &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	m.mu.Unlock()
	// Connections authenticated with the old certificate go; new ones
	// present the new certificate.
	m.dialer.CloseAll()
	if err := csrs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		m.log.V(1).Info("could not delete the renewal request", "csr", name, "error", err.Error())
	}
	m.log.Info("rotated the client certificate", "serial", cert.SerialNumber.String(), "notAfter", cert.NotAfter.UTC())
	return nil
}
