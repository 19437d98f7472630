package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-io/flotilla/internal/registration"
)

// liveHub probes a real hub through a client configuration.
type liveHub struct {
	cfg  *rest.Config
	rest rest.Interface
}

// NewLiveHub returns a Hub that probes the API server cfg points at.
func NewLiveHub(cfg *rest.Config) (Hub, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &liveHub{cfg: cfg, rest: cs.Discovery().RESTClient()}, nil
}

// Probe asks /apis first: it decides whether the hub is reachable at all.
func (h *liveHub) Probe(ctx context.Context) HubStatus {
	var st HubStatus
	body, err := h.rest.Get().AbsPath("/apis").DoRaw(ctx)
	if err != nil {
		st.DiscoveryErr = err
		return st
	}
	var groups metav1.APIGroupList
	if err := json.Unmarshal(body, &groups); err != nil {
		st.DiscoveryErr = fmt.Errorf("GET /apis: %w", err)
		return st
	}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			st.GroupVersions = append(st.GroupVersions, v.GroupVersion)
		}
	}
	if _, err := h.rest.Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		st.ReadyErr = err
	}
	if body, err := h.rest.Get().AbsPath("/version").DoRaw(ctx); err == nil {
		var v version.Info
		if json.Unmarshal(body, &v) == nil {
			st.Version = v.GitVersion
		}
	}
	return st
}

// ServingCertificates dials the hub with the client's own TLS settings and
// returns the chain the server presented.
func (h *liveHub) ServingCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	u, err := url.Parse(h.cfg.Host)
	if err != nil || u.Host == "" {
		u, err = url.Parse("https://" + h.cfg.Host)
		if err != nil {
			return nil, err
		}
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, fmt.Errorf("%s is not https", h.cfg.Host)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	tc, err := rest.TLSConfigFor(h.cfg)
	if err != nil {
		return nil, err
	}
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	d := tls.Dialer{Config: tc}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// NewConnection describes how cfg reaches the hub: its server, whether it
// verifies TLS, and the certificates of its CA and client.
func NewConnection(cfg *rest.Config, kubeconfig string) Connection {
	c := Connection{Kubeconfig: kubeconfig, Server: cfg.Host, Insecure: cfg.Insecure}
	if certs, ok := pemFrom(cfg.CAData, cfg.CAFile); ok {
		c.CACerts = certs
	}
	if certs, ok := pemFrom(cfg.CertData, cfg.CertFile); ok {
		c.ClientCerts = certs
	}
	return c
}

// pemFrom parses certificates from inline data, else from a file.
func pemFrom(data []byte, file string) ([]*x509.Certificate, bool) {
	if len(data) == 0 && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, false
		}
		data = b
	}
	if len(data) == 0 {
		return nil, false
	}
	certs, err := registration.ParseCertificates(data)
	return certs, err == nil
}

// maxMetricsBody bounds a scrape.
const maxMetricsBody = 32 << 20

// HTTPGet fetches url and returns the body of a 200 answer.
func HTTPGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxMetricsBody))
}
