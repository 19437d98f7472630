package top_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/top"
	"github.com/flotilla-io/flotilla/test/framework"
)

// summarized waits until every member is Ready with node and resource
// summaries, and returns the clusters by name.
func summarized(t *testing.T, nodes map[string]int32) map[string]*clusterv1alpha1.Cluster {
	t.Helper()
	out := map[string]*clusterv1alpha1.Cluster{}
	framework.Eventually(t, timeout, func() error {
		var list clusterv1alpha1.ClusterList
		if err := env.Hub.List(context.Background(), &list); err != nil {
			return err
		}
		for i := range list.Items {
			cl := &list.Items[i]
			if !meta.IsStatusConditionTrue(cl.Status.Conditions, clusterv1alpha1.ConditionReady) {
				return fmt.Errorf("cluster %s is not Ready yet", cl.Name)
			}
			if cl.Status.NodeSummary == nil || cl.Status.NodeSummary.Ready != nodes[cl.Name] {
				return fmt.Errorf("cluster %s: node summary %+v, want %d ready", cl.Name, cl.Status.NodeSummary, nodes[cl.Name])
			}
			rs := cl.Status.ResourceSummary
			if rs == nil || rs.Allocatable.Cpu().IsZero() || rs.Allocatable.Memory().IsZero() || rs.Allocatable.Pods().IsZero() {
				return fmt.Errorf("cluster %s: no resource summary yet", cl.Name)
			}
			out[cl.Name] = cl
		}
		if len(out) != len(nodes) {
			return fmt.Errorf("%d clusters, want %d", len(out), len(nodes))
		}
		return nil
	})
	return out
}

// TestTopClusters: the table shows, for each member, what its status
// summary says, in human units, sorted by name.
func TestTopClusters(t *testing.T) {
	framework.Require(t, env)
	summarized(t, map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1})

	// The summary may change between reads (pods starting): compare the
	// command's table with the status read right after it, until both agree.
	framework.Eventually(t, timeout, func() error {
		out, code := flotilla(t, "top", "clusters")
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		clusters := summarized(t, map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1})
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		want := [][]string{{"NAME", "READY", "NODES", "CPU(REQ/ALLOC)", "CPU%", "MEMORY(REQ/ALLOC)", "MEMORY%", "PODS(REQ/ALLOC)", "PODS%"}}
		for _, name := range []string{"member-cluster-1", "member-cluster-2"} {
			want = append(want, top.Row(top.Allocations(clusters[name]))[:9])
		}
		var got [][]string
		for _, l := range lines {
			got = append(got, strings.Fields(l))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("top clusters (-want +got):\n%s\n%s", diff, out)
		}
		if strings.Contains(out, "<unknown>") {
			return fmt.Errorf("a summarized cluster shows <unknown>:\n%s", out)
		}
		return nil
	})
}

func TestTopClustersJSON(t *testing.T) {
	framework.Require(t, env)
	clusters := summarized(t, map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1})
	out := mustFlotilla(t, "top", "clusters", "-o", "json", "--sort-by", "cpu")
	var got struct {
		Clusters []top.ClusterAllocation `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(got.Clusters) != 2 {
		t.Fatalf("got %d clusters, want 2:\n%s", len(got.Clusters), out)
	}
	for i, a := range got.Clusters {
		cl := clusters[a.Name]
		if cl == nil {
			t.Fatalf("unknown cluster %s in the output", a.Name)
		}
		if a.Ready != "True" || a.Nodes == nil || a.CPU == nil || a.Memory == nil || a.Pods == nil || a.CPU.Percent == nil {
			t.Errorf("cluster %s: incomplete %+v", a.Name, a)
			continue
		}
		// Allocatable only changes with the nodes: it must match exactly.
		for r, q := range map[corev1.ResourceName]*top.Allocation{corev1.ResourceCPU: a.CPU, corev1.ResourceMemory: a.Memory, corev1.ResourcePods: a.Pods} {
			if alloc := cl.Status.ResourceSummary.Allocatable[r]; q.Allocatable.Cmp(alloc) != 0 {
				t.Errorf("cluster %s: %s allocatable %s, want %s", a.Name, r, q.Allocatable.String(), alloc.String())
			}
		}
		if i > 0 && *got.Clusters[i-1].CPU.Percent < *a.CPU.Percent {
			t.Errorf("--sort-by cpu: %s (%d%%) before %s (%d%%)", got.Clusters[i-1].Name, *got.Clusters[i-1].CPU.Percent, a.Name, *a.CPU.Percent)
		}
	}
}

func TestTopClustersErrors(t *testing.T) {
	framework.Require(t, env)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"top", "clusters", "nope"}, "cluster nope not found"},
		{[]string{"top", "clusters", "-o", "name"}, `unknown output format "name"`},
		{[]string{"top", "clusters", "--sort-by", "age"}, `unknown --sort-by "age"`},
		{[]string{"top", "nodes"}, `unknown command "nodes" for "flotilla top"`},
	} {
		out, code := flotilla(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("flotilla %v: exit %d, output %q; want an error with %q", tc.args, code, out, tc.want)
		}
	}
}
