// Package registration_test checks pull-mode registration end to end: a
// real hub (kube-apiserver with bootstrap-token authentication,
// kube-controller-manager signing and cleaning tokens and CSRs), the hub's
// controllers in-process as their own RBAC-limited identity, and agents as
// real `flotilla register` and `flotilla agent` processes beside a kwok
// member cluster.
package registration_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/test/framework"
)

var (
	env *framework.Env
	// bin is the flotilla binary the suite runs.
	bin string
)

// The local cluster of every agent in this suite.
const localMember = "edge-local"

// Heartbeats in this suite: a renewal every second, Offline after 4s.
const (
	heartbeatInterval = "1s"
	leaseDuration     = 4 * time.Second
)

func TestMain(m *testing.M) {
	members := []localfleet.MemberSpec{{Name: localMember, Nodes: 1}}
	os.Exit(framework.Run(m, framework.Options{Members: members}, &env, buildFlotilla, framework.InProcessHub(hub.Options{})))
}

// buildFlotilla builds the binary that agents and registrations run as:
// real processes, as on an edge machine.
func buildFlotilla(e *framework.Env) (func(), error) {
	dir, err := os.MkdirTemp("", "flotilla-registration-bin-")
	if err != nil {
		return nil, err
	}
	bin = filepath.Join(dir, "flotilla")
	build := exec.Command("go", "build", "-o", bin, "./cmd/flotilla")
	build.Dir = e.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build flotilla: %v\n%s", err, out)
	}
	return func() { os.RemoveAll(dir) }, nil
}

// run runs flotilla as the hub's administrator and returns its standard
// output and standard error apart.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", env.Fleet.Hub.AdminKubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "FLOTILLA_HOME="+t.TempDir())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// joinCommand is what `flotilla token create` prints.
type joinCommand struct {
	Hub, Token, Hash string
	// Expires is when the token expires, as token create says.
	Expires time.Time
}

// TokenID is the public half of the token.
func (j joinCommand) TokenID() string { return strings.SplitN(j.Token, ".", 2)[0] }

var joinLine = regexp.MustCompile(`^flotilla register --hub (https://\S+) --token ([a-z0-9]{6}\.[a-z0-9]{16}) --ca-cert-hash (sha256:[0-9a-f]{64}) --name CLUSTER_NAME --cluster-kubeconfig LOCAL_KUBECONFIG\n$`)

// createToken runs `flotilla token create` and parses the join command.
func createToken(t *testing.T, args ...string) joinCommand {
	t.Helper()
	stdout, stderr, err := run(t, append([]string{"token", "create"}, args...)...)
	if err != nil {
		t.Fatalf("token create: %v\n%s%s", err, stdout, stderr)
	}
	m := joinLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("token create printed %q, want one `flotilla register ...` line; stderr:\n%s", stdout, stderr)
	}
	j := joinCommand{Hub: m[1], Token: m[2], Hash: m[3]}
	e := regexp.MustCompile(`bootstrap token ` + j.TokenID() + ` created; it expires at (\S+Z) \(in `).FindStringSubmatch(stderr)
	if e == nil {
		t.Fatalf("token create stderr = %q, want the token's ID and expiry", stderr)
	}
	var err2 error
	if j.Expires, err2 = time.Parse(time.RFC3339, e[1]); err2 != nil {
		t.Fatal(err2)
	}
	return j
}

// registerArgs are the arguments of `flotilla register` for a cluster.
func registerArgs(j joinCommand, name, dir string, extra ...string) []string {
	return append([]string{"register", "--hub", j.Hub, "--token", j.Token, "--ca-cert-hash", j.Hash, "--name", name,
		"--dir", dir, "--cluster-kubeconfig", env.Member(localMember).Kubeconfig, "--timeout", "2m"}, extra...)
}

// register runs `flotilla register` to the end.
func register(t *testing.T, j joinCommand, name, dir string, extra ...string) (stdout, stderr string, err error) {
	t.Helper()
	stdout, stderr, err = run(t, registerArgs(j, name, dir, extra...)...)
	if strings.Contains(stdout+stderr, strings.SplitN(j.Token, ".", 2)[1]) {
		t.Errorf("register printed the token's secret:\n%s%s", stdout, stderr)
	}
	return stdout, stderr, err
}

// mustRegister registers a cluster with a fresh token and returns its
// agent directory.
func mustRegister(t *testing.T, name string, extra ...string) string {
	t.Helper()
	j := createToken(t, "--ttl", "10m")
	dir := filepath.Join(t.TempDir(), "agent")
	stdout, stderr, err := register(t, j, name, dir, extra...)
	if err != nil {
		t.Fatalf("register %s: %v\n%s%s", name, err, stdout, stderr)
	}
	t.Cleanup(func() { unjoin(t, name) })
	return dir
}

// unjoin removes a cluster, ignoring one already gone.
func unjoin(t *testing.T, name string) {
	t.Helper()
	if stdout, stderr, err := run(t, "unjoin", name); err != nil && !strings.Contains(stderr, "is not joined") {
		t.Logf("unjoin %s: %v\n%s%s", name, err, stdout, stderr)
	}
}

// agent is a running `flotilla agent` process.
type agent struct {
	cmd *exec.Cmd
	log string
}

// startAgent starts `flotilla agent` for the directory. The test's cleanup
// kills it; its log is shown when the test fails.
func startAgent(t *testing.T, dir string, extra ...string) *agent {
	t.Helper()
	log := filepath.Join(t.TempDir(), "agent.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := append([]string{"agent", "--dir", dir, "--heartbeat-interval", heartbeatInterval,
		"--lease-duration", leaseDuration.String(), "--status-interval", "2s"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agent{cmd: cmd, log: log}
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("agent log %s:\n%s", dir, lastBytes(b, 8000))
		}
	})
	return a
}

// kill stops the agent at once, as a crash or a power cut would.
func (a *agent) kill() {
	if a.cmd.ProcessState != nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cluster reads a Cluster as the hub's administrator.
func cluster(t *testing.T, name string) (*clusterv1alpha1.Cluster, error) {
	t.Helper()
	var c clusterv1alpha1.Cluster
	err := env.Hub.Get(context.Background(), client.ObjectKey{Name: name}, &c)
	return &c, err
}

// wantCondition returns nil once the cluster's condition has the status
// and reason.
func wantCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) error {
	t.Helper()
	c, err := cluster(t, name)
	if err != nil {
		return err
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, typ)
	if cond == nil || cond.Status != status || cond.Reason != reason {
		return fmt.Errorf("cluster %s condition %s = %+v, want %s/%s", name, typ, cond, status, reason)
	}
	return nil
}

// agentCSRs lists the hub's CSRs for a cluster's agent identity.
func agentCSRs(t *testing.T, name string) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.HubConfig)
	if err != nil {
		t.Fatal(err)
	}
	l, err := cs.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []certificatesv1.CertificateSigningRequest
	for _, c := range l.Items {
		if registration.CSRCluster(&c) == name {
			out = append(out, c)
		}
	}
	return out
}
