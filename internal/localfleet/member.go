package localfleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// MemberSpec describes one local member cluster.
type MemberSpec struct {
	Name     string
	Nodes    int
	Provider string
	Region   string
	Zone     string
	Labels   map[string]string
	// NodeCPU, NodeMemory and NodePods are each node's allocatable
	// resources. Defaults: 8 CPUs, 32Gi, 110 pods.
	NodeCPU, NodeMemory, NodePods string
	// ControllerQPS, when set, is the client QPS of the member's
	// kube-controller-manager and kube-scheduler (burst twice that) in place
	// of their defaults (20 and 50), for benchmarks that create thousands of
	// pods. It takes effect when the member is created.
	ControllerQPS int
	// Pull registers the member in Pull mode through a real agent process
	// (`flotilla agent`), when the fleet runs a `flotilla hub` process;
	// otherwise it joins in Push mode.
	Pull bool
}

// Member is a running kwokctl cluster.
type Member struct {
	Spec MemberSpec
	// Workdir is the KWOK_WORKDIR of the cluster.
	Workdir string
	// Kubeconfig is the path of an admin kubeconfig for the cluster.
	Kubeconfig string
	bins       Binaries
}

// MemberOptions configure how members are created.
type MemberOptions struct {
	// Workdir is KWOK_WORKDIR for every member.
	Workdir  string
	Binaries Binaries
	Log      func(format string, args ...any)
}

const kwokctlConfig = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
  etcdPeerPort: %d
`

// kwokctlComponentsPatch runs the member's kube-controller-manager and
// kube-scheduler without leader election: each is the only one, and under
// load (a 2-core machine running a benchmark) a missed lease renewal would
// make it exit, leaving the member without controllers. A non-zero qps
// raises their client QPS and burst (MemberSpec.ControllerQPS).
func kwokctlComponentsPatch(qps int) []byte {
	var b []byte
	b = append(b, "componentsPatches:\n"...)
	for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
		b = fmt.Appendf(b, "- name: %s\n  extraArgs:\n  - {key: leader-elect, value: \"false\"}\n", c)
		if qps > 0 {
			b = fmt.Appendf(b, "  - {key: kube-api-qps, value: \"%d\"}\n  - {key: kube-api-burst, value: \"%d\"}\n", qps, 2*qps)
		}
	}
	return b
}

func (o MemberOptions) clusterDir(name string) string {
	return filepath.Join(o.Workdir, "clusters", name)
}

func (o MemberOptions) member(s MemberSpec) *Member {
	dir := o.clusterDir(s.Name)
	return &Member{Spec: s, Workdir: o.Workdir, Kubeconfig: filepath.Join(dir, "kubeconfig.yaml"), bins: o.Binaries}
}

func (o MemberOptions) kwokctl(ctx context.Context, name string, args ...string) ([]byte, error) {
	full := append([]string{"--name", name}, args...)
	cmd := exec.CommandContext(ctx, o.Binaries.Kwokctl, full...)
	cmd.Env = append(os.Environ(),
		"KWOK_WORKDIR="+o.Workdir,
		"KWOK_KUBE_VERSION="+KubeVersion,
		"KWOK_KUBECTL_BINARY="+o.Binaries.Kubectl,
		"KUBECONFIG="+filepath.Join(o.Workdir, "kwokctl-contexts.yaml"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(full, " "), err, lastN(string(out), 3000))
	}
	return out, nil
}

// StartMember creates a member cluster with kwokctl, or starts the stopped
// components of one that exists, and makes sure it has its nodes.
func StartMember(ctx context.Context, o MemberOptions, s MemberSpec) (*Member, error) {
	m := o.member(s)
	if _, err := os.Stat(filepath.Join(o.clusterDir(s.Name), "kwok.yaml")); err == nil {
		if _, err := o.kwokctl(ctx, s.Name, "start", "cluster", "--wait", "2m"); err != nil {
			return nil, err
		}
	} else if err := createMember(ctx, o, s); err != nil {
		return nil, err
	}
	if err := m.waitReady(ctx, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := m.ensureNodes(ctx); err != nil {
		return nil, fmt.Errorf("member %s: nodes: %w", s.Name, err)
	}
	return m, nil
}

func createMember(ctx context.Context, o MemberOptions, s MemberSpec) error {
	// kwokctl picks ports by scanning down from a fixed number, so two
	// concurrent creates collide. Take free ports from the kernel instead,
	// under a machine-wide lock so concurrent test packages don't race
	// between choosing and binding.
	unlock, err := lockFile(filepath.Join(os.TempDir(), "flotilla-kwokctl-create.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	ports := make([]int, 6)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(o.Workdir, 0o700); err != nil {
		return err
	}
	cfg := filepath.Join(o.Workdir, s.Name+"-kwokctl.yaml")
	conf := fmt.Appendf(nil, kwokctlConfig, ports[4])
	conf = append(conf, kwokctlComponentsPatch(s.ControllerQPS)...)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		return err
	}
	b := o.Binaries
	_, err = o.kwokctl(ctx, s.Name, "-c", cfg, "create", "cluster",
		"--runtime", "binary",
		"--kubeconfig", "",
		"--etcd-binary", b.Etcd,
		"--kube-apiserver-binary", b.KubeAPIServer,
		"--kube-controller-manager-binary", b.KubeControllerManager,
		"--kube-scheduler-binary", b.KubeScheduler,
		"--kwok-controller-binary", b.Kwok,
		fmt.Sprintf("--kube-apiserver-port=%d", ports[0]),
		fmt.Sprintf("--etcd-port=%d", ports[1]),
		fmt.Sprintf("--controller-port=%d", ports[2]),
		fmt.Sprintf("--kube-scheduler-port=%d", ports[3]),
		fmt.Sprintf("--kube-controller-manager-port=%d", ports[5]),
		"--wait", "2m",
	)
	if err != nil {
		return fmt.Errorf("create member %s: %w", s.Name, err)
	}
	return nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// RESTConfig returns an admin client configuration for the member.
func (m *Member) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", m.Kubeconfig)
}

func (m *Member) waitReady(ctx context.Context, timeout time.Duration) error {
	cfg, err := m.RESTConfig()
	if err != nil {
		return fmt.Errorf("member %s kubeconfig: %w", m.Spec.Name, err)
	}
	cfg.Timeout = 3 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, last = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if last == nil {
			// The default service account shows the token controllers run.
			if _, last = cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); last == nil {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("member %s not ready after %s: %v; logs in %s", m.Spec.Name, timeout, last, m.LogDir())
}

// LogDir is where kwokctl keeps the member's component logs.
func (m *Member) LogDir() string {
	return filepath.Join(m.Workdir, "clusters", m.Spec.Name, "logs")
}

// ensureNodes creates the member's fake nodes, which kwok then runs. Nodes
// carry the well-known topology labels so the member looks like a real
// cluster in its region.
func (m *Member) ensureNodes(ctx context.Context) error {
	cfg, err := m.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s := m.Spec
	cpu, mem, pods := orDefault(s.NodeCPU, "8"), orDefault(s.NodeMemory, "32Gi"), orDefault(s.NodePods, "110")
	for i := 0; i < s.Nodes; i++ {
		name := fmt.Sprintf("%s-node-%d", s.Name, i)
		alloc := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(cpu),
			corev1.ResourceMemory: resource.MustParse(mem),
			corev1.ResourcePods:   resource.MustParse(pods),
		}
		labels := map[string]string{
			"kubernetes.io/hostname": name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
			"type":                   "kwok",
		}
		if s.Region != "" {
			labels["topology.kubernetes.io/region"] = s.Region
		}
		if s.Zone != "" {
			labels["topology.kubernetes.io/zone"] = s.Zone
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      labels,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			},
			Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// StopAPIServer kills the member's kube-apiserver process (SIGKILL), as a
// crash or an outage would. Restart brings it back.
func (m *Member) StopAPIServer() error {
	pidFile := filepath.Join(m.Workdir, "clusters", m.Spec.Name, "pids", "kube-apiserver.pid")
	pid, ok := alivePid(pidFile)
	if !ok {
		return errors.New("kube-apiserver of " + m.Spec.Name + " is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for i := 0; i < 250 && pidAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (m *Member) restartOnce(ctx context.Context) error {
	// kwokctl tells a running component by signalling the pid in its pid
	// file, which succeeds on a zombie; where nothing reaps orphans (some
	// sandboxes' init), a killed component, or one that exited on its own
	// (kube-controller-manager and kube-scheduler do when they lose their
	// leader lease while the API server is down), stays one. Drop the pid
	// files of dead components so that kwokctl starts them again.
	for _, p := range m.pidFiles() {
		if _, alive := alivePid(p); !alive {
			_ = os.Remove(p)
		}
	}
	o := MemberOptions{Workdir: m.Workdir, Binaries: m.bins}
	if _, err := o.kwokctl(ctx, m.Spec.Name, "start", "cluster", "--wait", "2m"); err != nil {
		return err
	}
	return m.waitReady(ctx, 2*time.Minute)
}

// Restart starts whatever components of the member are stopped and waits
// until it serves again.
func (m *Member) Restart(ctx context.Context) error {
	if err := m.restartOnce(ctx); err != nil {
		return err
	}
	// A component may have given up while the API server was away and died
	// just now; start it once more.
	for _, p := range m.pidFiles() {
		if _, alive := alivePid(p); !alive {
			return m.restartOnce(ctx)
		}
	}
	return nil
}

func (m *Member) pidFiles() []string {
	pids, _ := filepath.Glob(filepath.Join(m.Workdir, "clusters", m.Spec.Name, "pids", "*.pid"))
	return pids
}

// DeleteMember removes a member cluster and its state.
func DeleteMember(ctx context.Context, o MemberOptions, name string) error {
	_, err := o.kwokctl(ctx, name, "delete", "cluster")
	return err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func lastN(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
