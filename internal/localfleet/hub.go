package localfleet

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flotilla-io/flotilla/internal/install"
	"github.com/flotilla-io/flotilla/internal/pki"
)

// HubControllers are the only kube-controller-manager controllers the hub
// runs: what a control plane needs, never the workload controllers, so that
// templates never run on the hub itself.
var HubControllers = []string{
	"namespace", "garbagecollector", "serviceaccount-token", "bootstrapsigner",
	"tokencleaner", "csrsigning", "csrcleaner", "clusterrole-aggregation",
}

// Identities on the hub.
const (
	// AdminUser is the hub administrator of a local fleet (system:masters).
	AdminUser = "flotilla-admin"
)

// HubOptions configure a local hub.
type HubOptions struct {
	// Dir holds everything of the hub: pki, etcd data, logs, pid files.
	Dir string
	// Binaries to run.
	Binaries Binaries
	// Detach lets the processes outlive the caller (flotilla up).
	Detach bool
	// UnsafeFastEtcd turns off etcd's fsync, for throwaway test hubs.
	UnsafeFastEtcd bool
	// Log receives progress lines.
	Log func(format string, args ...any)
}

// Hub is a running local hub.
type Hub struct {
	opts    HubOptions
	ports   hubPorts
	procs   []*process
	clients map[string]*http.Client // by certificate, for health checks

	// URL of the hub's kube-apiserver.
	URL string
	// AdminKubeconfig is the path of a kubeconfig for AdminUser.
	AdminKubeconfig string
	// ControllerKubeconfig is the path of a kubeconfig for
	// install.HubControllerUser, whom RBAC binds to the flotilla-hub roles only.
	ControllerKubeconfig string
	// CAFile is the hub CA's certificate.
	CAFile string
}

type hubPorts struct {
	Etcd      int `json:"etcd"`
	EtcdPeer  int `json:"etcdPeer"`
	APIServer int `json:"apiServer"`
	KCM       int `json:"kubeControllerManager"`
}

func (o *HubOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (h *Hub) path(elem ...string) string {
	return filepath.Join(append([]string{h.opts.Dir}, elem...)...)
}

// StartHub starts a hub in opts.Dir, or reuses the components of one that
// already runs there. Certificates, keys and ports persist in the directory,
// so a second call repairs a partly stopped hub without changing its
// identity.
func StartHub(ctx context.Context, opts HubOptions) (*Hub, error) {
	h := &Hub{opts: opts}
	if err := os.MkdirAll(h.path("run"), 0o700); err != nil {
		return nil, err
	}
	if err := h.ensurePKI(); err != nil {
		return nil, fmt.Errorf("hub certificates: %w", err)
	}
	if err := h.ensurePorts(); err != nil {
		return nil, err
	}
	if err := h.writeConfigFiles(); err != nil {
		return nil, err
	}
	h.URL = "https://127.0.0.1:" + strconv.Itoa(h.ports.APIServer)
	h.CAFile = h.path("pki", "ca.crt")
	h.AdminKubeconfig = h.path("admin.kubeconfig")
	h.ControllerKubeconfig = h.path("hub-controller.kubeconfig")
	if err := h.writeKubeconfigs(); err != nil {
		return nil, err
	}
	h.procs = []*process{h.etcdProcess(), h.apiserverProcess(), h.kcmProcess()}

	etcd, apiserver, kcm := h.procs[0], h.procs[1], h.procs[2]
	if err := h.startAndWait(ctx, etcd, h.etcdHealthy); err != nil {
		return nil, err
	}
	if err := h.startAndWait(ctx, apiserver, h.apiserverReady); err != nil {
		return nil, err
	}
	if err := h.startAndWait(ctx, kcm, nil); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Hub) startAndWait(ctx context.Context, p *process, ready func(context.Context) error) error {
	started, err := p.start()
	if err != nil {
		return err
	}
	if started {
		h.opts.logf("started %s", p.name)
	}
	if ready == nil {
		// Give a crashing process a moment to show it.
		time.Sleep(300 * time.Millisecond)
		if !p.running() {
			return fmt.Errorf("%s exited at start; its log %s ends with:\n%s", p.name, p.logPath(), p.tail(2000))
		}
		return nil
	}
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.running() {
			return fmt.Errorf("%s exited at start; its log %s ends with:\n%s", p.name, p.logPath(), p.tail(2000))
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(cctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready within 90s: %v; see %s", p.name, last, p.logPath())
}

// Stop stops the hub's processes. The state directory stays.
func (h *Hub) Stop() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		_ = h.procs[i].stop(10 * time.Second)
	}
}

// Process names of the hub's components, for StopComponent and logs.
const (
	ComponentEtcd                  = "etcd"
	ComponentKubeAPIServer         = "kube-apiserver"
	ComponentKubeControllerManager = "kube-controller-manager"
)

// LogFiles returns the log file of every hub component.
func (h *Hub) LogFiles() []string {
	var out []string
	for _, p := range h.procs {
		out = append(out, p.logPath())
	}
	return out
}

// RESTConfig returns an admin client configuration for the hub.
func (h *Hub) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", h.AdminKubeconfig)
}

func (h *Hub) ensurePKI() error {
	dir := h.path("pki")
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return nil
	}
	ca, err := pki.NewCA("flotilla-hub-ca")
	if err != nil {
		return err
	}
	loop := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	leaves := []struct {
		base string
		o    pki.LeafOptions
	}{
		{"apiserver", pki.LeafOptions{CommonName: "kube-apiserver", IPs: loop, Server: true,
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}}},
		{"etcd-server", pki.LeafOptions{CommonName: "etcd", IPs: loop, DNSNames: []string{"localhost"}, Server: true, Client: true}},
		{"apiserver-etcd-client", pki.LeafOptions{CommonName: "kube-apiserver-etcd-client", Client: true}},
		{"admin", pki.LeafOptions{CommonName: AdminUser, Organization: []string{"system:masters"}, Client: true}},
		{"kube-controller-manager", pki.LeafOptions{CommonName: "system:kube-controller-manager", Client: true}},
		{"hub-controller", pki.LeafOptions{CommonName: install.HubControllerUser, Client: true}},
	}
	for _, l := range leaves {
		leaf, err := ca.Issue(l.o)
		if err != nil {
			return err
		}
		if err := pki.WritePair(dir, l.base, leaf.Cert, leaf.Key); err != nil {
			return err
		}
	}
	sa, err := pki.NewSigningKey()
	if err != nil {
		return err
	}
	saKey, err := pki.KeyPEM(sa)
	if err != nil {
		return err
	}
	saPub, err := pki.PublicKeyPEM(sa.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), saKey, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.pub"), saPub, 0o600); err != nil {
		return err
	}
	// The CA goes last: its presence marks the directory complete.
	return pki.WritePair(dir, "ca", ca.Cert, ca.Key)
}

func (h *Hub) ensurePorts() error {
	path := h.path("ports.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &h.ports); err == nil && h.ports.APIServer != 0 {
			return nil
		}
	}
	var err error
	for _, p := range []*int{&h.ports.Etcd, &h.ports.EtcdPeer, &h.ports.APIServer, &h.ports.KCM} {
		if *p, err = FreePort(); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(h.ports)
	return os.WriteFile(path, b, 0o600)
}

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
# Secrets and tokens: who touched them, never their content.
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "serviceaccounts/token"]
  - group: "authentication.k8s.io"
    resources: ["tokenreviews"]
# Reads and health checks are noise.
- level: None
  verbs: ["get", "list", "watch"]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"]
- level: None
  resources:
  - group: "coordination.k8s.io"
    resources: ["leases"]
  - group: ""
    resources: ["events"]
  - group: "events.k8s.io"
    resources: ["events"]
# Every change to what people write (clusters, policies), with what changed.
- level: RequestResponse
  resources:
  - group: "cluster.flotilla.io"
  - group: "policy.flotilla.io"
# Bindings and Works are the hub's own derived state, written several times
# per template: who wrote which, and when, without the bodies, which would
# cost the hub a serialisation and a log line of the whole object per write.
- level: Metadata
`

// authenticationConfig admits anonymous requests to one path only: the
// kube-public/cluster-info ConfigMap that registering agents read before
// they have proven the hub, so that they never send their bootstrap token
// to a server they have not proven (see docs/pull-mode.md). RBAC still
// decides: only the flotilla:cluster-info-reader Role lets anonymous users
// get it. Every other anonymous request is rejected as unauthenticated.
const authenticationConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
  - path: /api/v1/namespaces/kube-public/configmaps/cluster-info
`

func (h *Hub) writeConfigFiles() error {
	if err := os.WriteFile(h.path("audit-policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(h.path("authentication-config.yaml"), []byte(authenticationConfig), 0o600); err != nil {
		return err
	}
	encPath := h.path("encryption-config.yaml")
	if _, err := os.Stat(encPath); err == nil {
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	enc := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ["secrets"]
  providers:
  - secretbox:
      keys:
      - name: key1
        secret: %s
  - identity: {}
`, base64.StdEncoding.EncodeToString(key))
	return os.WriteFile(encPath, []byte(enc), 0o600)
}

func (h *Hub) etcdProcess() *process {
	pk := func(f string) string { return h.path("pki", f) }
	args := []string{
		"--name=hub",
		"--data-dir=" + h.path("etcd"),
		fmt.Sprintf("--listen-client-urls=https://127.0.0.1:%d", h.ports.Etcd),
		fmt.Sprintf("--advertise-client-urls=https://127.0.0.1:%d", h.ports.Etcd),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", h.ports.EtcdPeer),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", h.ports.EtcdPeer),
		fmt.Sprintf("--initial-cluster=hub=http://127.0.0.1:%d", h.ports.EtcdPeer),
		"--cert-file=" + pk("etcd-server.crt"),
		"--key-file=" + pk("etcd-server.key"),
		"--trusted-ca-file=" + pk("ca.crt"),
		"--client-cert-auth=true",
		"--quota-backend-bytes=4294967296",
		"--log-level=warn",
	}
	if h.opts.UnsafeFastEtcd {
		args = append(args, "--unsafe-no-fsync=true")
	}
	return &process{name: ComponentEtcd, binary: h.opts.Binaries.Etcd, args: args, dir: h.path("run"), detach: h.opts.Detach}
}

func (h *Hub) apiserverProcess() *process {
	pk := func(f string) string { return h.path("pki", f) }
	args := []string{
		fmt.Sprintf("--etcd-servers=https://127.0.0.1:%d", h.ports.Etcd),
		"--etcd-cafile=" + pk("ca.crt"),
		"--etcd-certfile=" + pk("apiserver-etcd-client.crt"),
		"--etcd-keyfile=" + pk("apiserver-etcd-client.key"),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", h.ports.APIServer),
		"--tls-cert-file=" + pk("apiserver.crt"),
		"--tls-private-key-file=" + pk("apiserver.key"),
		"--client-ca-file=" + pk("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + pk("sa.pub"),
		"--service-account-signing-key-file=" + pk("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		"--enable-bootstrap-token-auth=true",
		"--authentication-config=" + h.path("authentication-config.yaml"),
		"--profiling=false",
		"--audit-policy-file=" + h.path("audit-policy.yaml"),
		"--audit-log-path=" + h.path("audit", "audit.log"),
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=3",
		"--encryption-provider-config=" + h.path("encryption-config.yaml"),
		"--endpoint-reconciler-type=none",
		"--v=1",
	}
	return &process{name: ComponentKubeAPIServer, binary: h.opts.Binaries.KubeAPIServer, args: args, dir: h.path("run"), detach: h.opts.Detach}
}

func (h *Hub) kcmProcess() *process {
	pk := func(f string) string { return h.path("pki", f) }
	ctrls := ""
	for i, c := range HubControllers {
		if i > 0 {
			ctrls += ","
		}
		ctrls += c
	}
	args := []string{
		"--kubeconfig=" + h.path("kcm.kubeconfig"),
		"--authentication-kubeconfig=" + h.path("kcm.kubeconfig"),
		"--authorization-kubeconfig=" + h.path("kcm.kubeconfig"),
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", h.ports.KCM),
		"--controllers=" + ctrls,
		"--service-account-private-key-file=" + pk("sa.key"),
		"--root-ca-file=" + pk("ca.crt"),
		"--cluster-signing-cert-file=" + pk("ca.crt"),
		"--cluster-signing-key-file=" + pk("ca.key"),
		"--use-service-account-credentials=true",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
	return &process{name: ComponentKubeControllerManager, binary: h.opts.Binaries.KubeControllerManager, args: args, dir: h.path("run"), detach: h.opts.Detach}
}

func (h *Hub) writeKubeconfigs() error {
	for _, k := range []struct{ file, user, cert string }{
		{"admin.kubeconfig", AdminUser, "admin"},
		{"hub-controller.kubeconfig", install.HubControllerUser, "hub-controller"},
		{"kcm.kubeconfig", "system:kube-controller-manager", "kube-controller-manager"},
	} {
		cfg, err := h.kubeconfig("flotilla-hub", k.user, k.cert)
		if err != nil {
			return err
		}
		if err := clientcmd.WriteToFile(*cfg, h.path(k.file)); err != nil {
			return err
		}
	}
	return nil
}

// kubeconfig builds a kubeconfig with embedded credentials for one of the
// hub's client certificates.
func (h *Hub) kubeconfig(name, user, certBase string) (*clientcmdapi.Config, error) {
	ca, err := os.ReadFile(h.path("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	crt, err := os.ReadFile(h.path("pki", certBase+".crt"))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(h.path("pki", certBase+".key"))
	if err != nil {
		return nil, err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: h.URL, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	return cfg, nil
}

func (h *Hub) tlsClient(certBase string) (*http.Client, error) {
	if c, ok := h.clients[certBase]; ok {
		return c, nil
	}
	ca, err := os.ReadFile(h.path("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("bad hub CA")
	}
	pair, err := tls.LoadX509KeyPair(h.path("pki", certBase+".crt"), h.path("pki", certBase+".key"))
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
	}}}
	if h.clients == nil {
		h.clients = map[string]*http.Client{}
	}
	h.clients[certBase] = c
	return c, nil
}

func (h *Hub) httpOK(ctx context.Context, certBase, url string) error {
	c, err := h.tlsClient(certBase)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

func (h *Hub) etcdHealthy(ctx context.Context) error {
	return h.httpOK(ctx, "apiserver-etcd-client", fmt.Sprintf("https://127.0.0.1:%d/health", h.ports.Etcd))
}

func (h *Hub) apiserverReady(ctx context.Context) error {
	return h.httpOK(ctx, "admin", h.URL+"/readyz")
}
