// Package localfleet_test drives the real flotilla binary end to end:
// `flotilla up`, `flotilla get clusters`, a second `up`, and `flotilla down`.
package localfleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

// flotilla builds the binary under test.
func flotilla(t *testing.T) string {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "flotilla")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/flotilla")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build flotilla: %v\n%s", err, out)
	}
	return bin
}

type runner struct {
	t    *testing.T
	bin  string
	home string
}

func (r runner) run(args ...string) (string, string, error) {
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(os.Environ(), "FLOTILLA_HOME="+r.home, "KUBECONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (r runner) must(args ...string) string {
	r.t.Helper()
	out, errOut, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("flotilla %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

type clusterList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			SyncMode string `json:"syncMode"`
			Region   string `json:"region"`
			Provider string `json:"provider"`
		} `json:"spec"`
		Status struct {
			KubernetesVersion string `json:"kubernetesVersion"`
			NodeSummary       struct {
				Total int `json:"total"`
			} `json:"nodeSummary"`
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

func TestUpGetDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole fleet")
	}
	home, err := framework.NewHome()
	if err != nil {
		t.Fatal(err)
	}
	r := runner{t: t, bin: flotilla(t), home: home}
	t.Cleanup(func() {
		if _, err := os.Stat(home); err == nil {
			if t.Failed() {
				logs, _ := filepath.Glob(filepath.Join(home, "hub", "run", "*.log"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("=== %s (last 3000 bytes)\n%s", l, tail(string(b), 3000))
				}
			}
			_, _, _ = r.run("down")
			localfleet.KillReferencing(home, 5*time.Second)
			_ = os.RemoveAll(home)
		}
	})

	start := time.Now()
	out := r.must("up")
	t.Logf("flotilla up took %.1fs", time.Since(start).Seconds())
	if !strings.Contains(out, "flotilla get clusters") {
		t.Errorf("up does not print the next commands:\n%s", out)
	}
	for _, f := range []string{"hub.yaml", "member-cluster-1.yaml", "member-cluster-2.yaml", "edge-cluster.yaml"} {
		if _, err := os.Stat(filepath.Join(home, "kubeconfig", f)); err != nil {
			t.Errorf("kubeconfig %s: %v", f, err)
		}
	}

	var list clusterList
	if err := json.Unmarshal([]byte(r.must("get", "clusters", "-o", "json")), &list); err != nil {
		t.Fatalf("get clusters -o json: %v", err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		t.Errorf("get clusters -o json: apiVersion %q kind %q, want v1 List", list.APIVersion, list.Kind)
	}
	want := map[string]struct {
		env   string
		nodes int
	}{"member-cluster-1": {"production", 3}, "member-cluster-2": {"production", 3}, "edge-cluster": {"edge", 2}}
	if len(list.Items) != len(want) {
		t.Fatalf("got %d clusters, want %d", len(list.Items), len(want))
	}
	for _, c := range list.Items {
		w, ok := want[c.Metadata.Name]
		if !ok {
			t.Errorf("unexpected cluster %s", c.Metadata.Name)
			continue
		}
		// The edge cluster registers itself through its agent, as at the edge.
		if mode := map[bool]string{true: "Pull", false: "Push"}[c.Metadata.Name == "edge-cluster"]; c.Spec.SyncMode != mode {
			t.Errorf("%s: syncMode %q, want %s", c.Metadata.Name, c.Spec.SyncMode, mode)
		}
		if c.Kind != "Cluster" || c.APIVersion != "cluster.flotilla.io/v1alpha1" {
			t.Errorf("%s: kind %s apiVersion %s", c.Metadata.Name, c.Kind, c.APIVersion)
		}
		if c.Metadata.Labels["environment"] != w.env || c.Spec.Region == "" || c.Spec.Provider == "" {
			t.Errorf("%s: labels %v region %q provider %q", c.Metadata.Name, c.Metadata.Labels, c.Spec.Region, c.Spec.Provider)
		}
		if c.Status.NodeSummary.Total != w.nodes || c.Status.KubernetesVersion != localfleet.KubeVersion {
			t.Errorf("%s: nodes %d version %q, want %d %s", c.Metadata.Name, c.Status.NodeSummary.Total, c.Status.KubernetesVersion, w.nodes, localfleet.KubeVersion)
		}
		ready := false
		for _, cond := range c.Status.Conditions {
			ready = ready || (cond.Type == "Ready" && cond.Status == "True")
		}
		if !ready {
			t.Errorf("%s is not Ready: %+v", c.Metadata.Name, c.Status.Conditions)
		}
	}

	table := r.must("get", "clusters")
	if !strings.HasPrefix(table, "NAME") || !strings.Contains(strings.Fields(strings.Split(table, "\n")[0])[6], "AGE") {
		t.Errorf("unexpected table:\n%s", table)
	}
	describe := r.must("describe", "cluster", "member-cluster-1")
	for _, s := range []string{"Ready", "Healthy", "Nodes:  3 (3 ready)", "ClusterReady"} {
		if !strings.Contains(describe, s) {
			t.Errorf("describe lacks %q:\n%s", s, describe)
		}
	}

	checkSeedCase1(t, r, home)

	// A second up reuses every process.
	pids := hubPids(t, home)
	start = time.Now()
	r.must("up")
	t.Logf("second flotilla up took %.1fs", time.Since(start).Seconds())
	if again := hubPids(t, home); !equal(pids, again) {
		t.Errorf("second up restarted hub processes: %v -> %v", pids, again)
	}

	r.must("down")
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("home %s still exists after down: %v", home, err)
	}
	if n := localfleet.KillReferencing(home, time.Second); n != 0 {
		t.Errorf("%d processes survived flotilla down", n)
	}
}

func hubPids(t *testing.T, home string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(home, "hub", "run", "*.pid"))
	out := map[string]string{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		out[filepath.Base(f)] = string(b)
	}
	if len(out) != 4 {
		t.Errorf("want 4 hub pid files (etcd, kube-apiserver, kube-controller-manager, flotilla-hub), got %v", out)
	}
	return out
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// checkSeedCase1 applies the seed's case 1 unchanged to the fleet that
// `flotilla up` started, and waits for the real `flotilla hub` daemon to
// run it: 2 ready replicas in member-cluster-1, 1 in member-cluster-2,
// none in edge-cluster, and 3/3 on the hub.
func checkSeedCase1(t *testing.T, r runner, home string) {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(root, "..", "shared", "seed", "examples", "case1-weighted.yaml")
	r.must("apply", "-f", seed)
	client := func(name string) kubernetes.Interface {
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(home, "kubeconfig", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	want := map[string]int32{"hub": 3, "member-cluster-1": 2, "member-cluster-2": 1, "edge-cluster": 0}
	framework.Eventually(t, 2*time.Minute, func() error {
		for name, n := range want {
			d, err := client(name).AppsV1().Deployments("default").Get(context.Background(), "myapp", metav1.GetOptions{})
			if n == 0 {
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("%s runs myapp (%v)", name, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			if d.Status.ReadyReplicas != n {
				return fmt.Errorf("%s: myapp %d ready, want %d", name, d.Status.ReadyReplicas, n)
			}
		}
		return nil
	})
	out := r.must("describe", "deployment/myapp")
	for _, s := range []string{"myapp-propagation", "member-cluster-1", "member-cluster-2", "edge-cluster", "Healthy"} {
		if !strings.Contains(out, s) {
			t.Errorf("describe deployment/myapp lacks %q:\n%s", s, out)
		}
	}
	if out := r.must("get", "bindings"); !strings.Contains(out, "myapp-deployment") {
		t.Errorf("get bindings lacks myapp-deployment:\n%s", out)
	}
}
