package doctor

import (
	"context"
	"crypto/x509"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Env is what the checks read.
type Env struct {
	// Client reads the hub's objects with Flotilla's scheme.
	Client client.Client
	// Hub probes the hub's API server.
	Hub Hub
	// Conn is how the CLI reaches the hub, from the kubeconfig.
	Conn Connection
	// Metrics is the hub's metrics endpoint.
	Metrics MetricsEndpoint
	// Now is the time the checks compare ages and expiries with.
	Now time.Time

	hub     hubState
	objs    objects
	scrape  *Scrape
	scraped bool
	scrErr  error
}

// Hub is what doctor asks the hub's API server besides its objects.
type Hub interface {
	// Probe asks /readyz, /version and the API groups the hub serves.
	Probe(ctx context.Context) HubStatus
	// ServingCertificates returns the certificate chain the hub's
	// endpoint presents, leaf first.
	ServingCertificates(ctx context.Context) ([]*x509.Certificate, error)
}

// HubStatus is what a probe of the hub found.
type HubStatus struct {
	// ReadyErr is the error of GET /readyz, nil when it answered ok.
	ReadyErr error
	// Version is the hub's Kubernetes version, when /version answered.
	Version string
	// GroupVersions are the API group versions the hub serves, such as
	// cluster.flotilla.io/v1alpha1.
	GroupVersions []string
	// DiscoveryErr is the error of listing the API groups. When it is set
	// the hub is unreachable for every other check.
	DiscoveryErr error
}

// Connection is how the CLI reaches the hub, as the kubeconfig says.
type Connection struct {
	// Kubeconfig names the kubeconfig in force and where it came from.
	Kubeconfig string
	// Err is set when the kubeconfig could not be loaded or the client
	// could not be built: the hub is then unreachable.
	Err error
	// Server is the hub's URL.
	Server string
	// Insecure is true when the kubeconfig turns TLS verification off.
	Insecure bool
	// CACerts are the certificates of the kubeconfig's certificate
	// authority, if it names one.
	CACerts []*x509.Certificate
	// ClientCerts is the kubeconfig user's client certificate chain, leaf
	// first, if it uses one.
	ClientCerts []*x509.Certificate
}

// MetricsEndpoint is where the hub's controllers serve Prometheus metrics.
type MetricsEndpoint struct {
	// URL of the endpoint, such as http://127.0.0.1:8080/metrics.
	URL string
	// Explicit is true when the user named the URL, so that an endpoint
	// that does not answer is a failure rather than a warning.
	Explicit bool
	// Source says where the URL came from, for the evidence.
	Source string
	// Get fetches a URL and returns the body of a 200 answer.
	Get func(ctx context.Context, url string) ([]byte, error)
}

type hubState struct {
	status       HubStatus
	probed       bool
	reachable    bool
	apiInstalled bool
	missing      []string
}

// Flotilla's API groups: a hub that serves them has Flotilla installed.
var flotillaGroupVersions = []string{
	"cluster.flotilla.io/v1alpha1",
	"policy.flotilla.io/v1alpha1",
	"work.flotilla.io/v1alpha1",
}

// connect probes the hub once per run.
func (e *Env) connect(ctx context.Context) {
	if e.hub.probed {
		return
	}
	e.hub.probed = true
	if e.Conn.Err != nil || e.Hub == nil || e.Client == nil {
		return
	}
	e.hub.status = e.Hub.Probe(ctx)
	e.hub.reachable = e.hub.status.DiscoveryErr == nil
	served := map[string]bool{}
	for _, gv := range e.hub.status.GroupVersions {
		served[gv] = true
	}
	for _, gv := range flotillaGroupVersions {
		if !served[gv] {
			e.hub.missing = append(e.hub.missing, gv)
		}
	}
	e.hub.apiInstalled = e.hub.reachable && len(e.hub.missing) == 0
}

// metrics scrapes the hub's metrics endpoint once per run.
func (e *Env) metrics(ctx context.Context) (*Scrape, error) {
	if e.scraped {
		return e.scrape, e.scrErr
	}
	e.scraped = true
	if e.Metrics.URL == "" || e.Metrics.Get == nil {
		e.scrErr = errNoMetricsURL
		return nil, e.scrErr
	}
	body, err := e.Metrics.Get(ctx, e.Metrics.URL)
	if err != nil {
		e.scrErr = err
		return nil, err
	}
	e.scrape, e.scrErr = ParseMetrics(body)
	return e.scrape, e.scrErr
}
