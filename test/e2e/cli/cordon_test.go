package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/cordon"
	"github.com/flotilla-io/flotilla/test/framework"
)

const (
	unschedulable = clusterv1alpha1.TaintUnschedulable
	notReady      = clusterv1alpha1.TaintNotReady
)

// TestCordonDrainUncordon walks a cluster through maintenance: cordon,
// drain, uncordon, each twice to show they are idempotent, with a user's
// own taint left alone throughout.
func TestCordonDrainUncordon(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("cordon-a", corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}), cluster("cordon-b"))

	steps := []struct {
		args       []string
		want       string
		wantTaints map[string][]string
	}{
		{args: []string{"cordon", "cordon-a", "cordon-b"},
			want: "cluster/cordon-a cordoned\ncluster/cordon-b cordoned\n",
			wantTaints: map[string][]string{
				"cordon-a": {"dedicated=edge:NoSchedule", unschedulable + ":NoSchedule"},
				"cordon-b": {unschedulable + ":NoSchedule"}}},
		{args: []string{"cordon", "cordon-a"},
			want:       "cluster/cordon-a already cordoned\n",
			wantTaints: map[string][]string{"cordon-a": {"dedicated=edge:NoSchedule", unschedulable + ":NoSchedule"}}},
		{args: []string{"cordon", "--drain", "cordon-b"},
			want:       "cluster/cordon-b cordoned and draining: its workloads move to other clusters\n",
			wantTaints: map[string][]string{"cordon-b": {unschedulable + ":NoSchedule", unschedulable + ":NoExecute"}}},
		{args: []string{"cordon", "cordon-b", "--drain"},
			want:       "cluster/cordon-b already cordoned and draining\n",
			wantTaints: map[string][]string{"cordon-b": {unschedulable + ":NoSchedule", unschedulable + ":NoExecute"}}},
		{args: []string{"uncordon", "cordon-a", "cordon-b"},
			want: "cluster/cordon-a uncordoned\ncluster/cordon-b uncordoned\n",
			wantTaints: map[string][]string{
				"cordon-a": {"dedicated=edge:NoSchedule"},
				"cordon-b": nil}},
		{args: []string{"uncordon", "cordon-b"},
			want:       "cluster/cordon-b already uncordoned\n",
			wantTaints: map[string][]string{"cordon-b": nil}},
	}
	for _, s := range steps {
		out := mustFlotilla(t, s.args...)
		if diff := cmp.Diff(s.want, out); diff != "" {
			t.Errorf("flotilla %s: output (-want +got):\n%s", strings.Join(s.args, " "), diff)
		}
		for name, want := range s.wantTaints {
			if diff := cmp.Diff(want, taintsOf(t, name)); diff != "" {
				t.Errorf("after flotilla %s: taints of %s (-want +got):\n%s", strings.Join(s.args, " "), name, diff)
			}
		}
	}
}

// TestCordonSetsTimeAdded: the cordon taints carry the time they were
// added, which failover tolerations count from.
func TestCordonSetsTimeAdded(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("cordon-time"))
	before := time.Now().Add(-time.Second)
	mustFlotilla(t, "cordon", "--drain", "cordon-time")
	var cl clusterv1alpha1.Cluster
	if err := env.Hub.Get(context.Background(), client.ObjectKey{Name: "cordon-time"}, &cl); err != nil {
		t.Fatal(err)
	}
	if len(cl.Spec.Taints) != 2 {
		t.Fatalf("taints: got %v, want two", cl.Spec.Taints)
	}
	for _, tn := range cl.Spec.Taints {
		if tn.TimeAdded == nil || tn.TimeAdded.Time.Before(before.Truncate(time.Second)) || tn.TimeAdded.Time.After(time.Now()) {
			t.Errorf("taint %s: timeAdded %v is not now", tn.ToString(), tn.TimeAdded)
		}
	}
}

// TestCordonUnknownCluster: an unknown name fails with exit code 1 and
// says how to list clusters; the other names are still cordoned.
func TestCordonUnknownCluster(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("cordon-known"))
	for _, args := range [][]string{{"cordon", "cordon-known", "nope"}, {"uncordon", "nope"}, {"taint", "clusters", "nope", "a:NoSchedule"}} {
		out, code := flotilla(t, args...)
		if code != 1 {
			t.Errorf("flotilla %s: exit code %d, want 1:\n%s", strings.Join(args, " "), code, out)
		}
		if !strings.Contains(out, `error: cluster "nope" not found; see flotilla get clusters`) {
			t.Errorf("flotilla %s: output does not name the unknown cluster:\n%s", strings.Join(args, " "), out)
		}
	}
	if diff := cmp.Diff([]string{unschedulable + ":NoSchedule"}, taintsOf(t, "cordon-known")); diff != "" {
		t.Errorf("cordon-known was not cordoned (-want +got):\n%s", diff)
	}
}

// TestTaint adds, overwrites and removes taints as kubectl taint does.
func TestTaint(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("taint-a"))
	steps := []struct {
		args       []string
		want       string
		wantCode   int
		wantTaints []string
	}{
		{args: []string{"taint", "clusters", "taint-a", "dedicated=edge:NoSchedule", "example.com/gpu:PreferNoSchedule"},
			want: "cluster/taint-a tainted\n", wantTaints: []string{"dedicated=edge:NoSchedule", "example.com/gpu:PreferNoSchedule"}},
		{args: []string{"taint", "cluster", "taint-a", "dedicated=edge:NoSchedule"},
			want: "cluster/taint-a unchanged\n", wantTaints: []string{"dedicated=edge:NoSchedule", "example.com/gpu:PreferNoSchedule"}},
		{args: []string{"taint", "cluster.cluster.flotilla.io", "taint-a", "dedicated=batch:NoSchedule"}, wantCode: 1,
			want:       `error: cluster "taint-a": the cluster already has taint dedicated=edge:NoSchedule; to set it to dedicated=batch:NoSchedule, add --overwrite` + "\n",
			wantTaints: []string{"dedicated=edge:NoSchedule", "example.com/gpu:PreferNoSchedule"}},
		{args: []string{"taint", "clusters", "taint-a", "dedicated=batch:NoSchedule", "--overwrite"},
			want: "cluster/taint-a tainted\n", wantTaints: []string{"dedicated=batch:NoSchedule", "example.com/gpu:PreferNoSchedule"}},
		{args: []string{"taint", "cluster/taint-a", "dedicated=batch:NoExecute"},
			want: "cluster/taint-a tainted\n", wantTaints: []string{"dedicated=batch:NoSchedule", "example.com/gpu:PreferNoSchedule", "dedicated=batch:NoExecute"}},
		{args: []string{"taint", "clusters", "taint-a", "dedicated:NoSchedule-"},
			want: "cluster/taint-a untainted\n", wantTaints: []string{"example.com/gpu:PreferNoSchedule", "dedicated=batch:NoExecute"}},
		{args: []string{"taint", "clusters", "taint-a", "dedicated-", "zone=a:NoSchedule"},
			want: "cluster/taint-a modified\n", wantTaints: []string{"example.com/gpu:PreferNoSchedule", "zone=a:NoSchedule"}},
		{args: []string{"taint", "clusters", "taint-a", "dedicated-"}, wantCode: 1,
			want: `error: cluster "taint-a": taint dedicated not found` + "\n", wantTaints: []string{"example.com/gpu:PreferNoSchedule", "zone=a:NoSchedule"}},
		{args: []string{"taint", "fc", "taint-a", "example.com/gpu-", "zone-"},
			want: "cluster/taint-a untainted\n", wantTaints: nil},
	}
	for _, s := range steps {
		out, code := flotilla(t, s.args...)
		if code != s.wantCode {
			t.Errorf("flotilla %s: exit code %d, want %d", strings.Join(s.args, " "), code, s.wantCode)
		}
		if diff := cmp.Diff(s.want, out); diff != "" {
			t.Errorf("flotilla %s: output (-want +got):\n%s", strings.Join(s.args, " "), diff)
		}
		if diff := cmp.Diff(s.wantTaints, taintsOf(t, "taint-a")); diff != "" {
			t.Errorf("after flotilla %s: taints (-want +got):\n%s", strings.Join(s.args, " "), diff)
		}
	}
}

// TestTaintRejectsBadArguments: each mistake fails before the hub is
// changed, with a message that names the argument at fault.
func TestTaintRejectsBadArguments(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("taint-bad", corev1.Taint{Key: notReady, Effect: corev1.TaintEffectNoExecute}))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"invalid effect": {[]string{"taint", "clusters", "taint-bad", "dedicated=edge:Never"},
			`error: invalid taint "dedicated=edge:Never": effect "Never": the effect is NoSchedule, PreferNoSchedule or NoExecute`},
		"no effect": {[]string{"taint", "clusters", "taint-bad", "dedicated=edge"},
			`error: invalid taint "dedicated=edge": no effect`},
		"invalid key": {[]string{"taint", "clusters", "taint-bad", "de dicated:NoSchedule"},
			`error: invalid taint "de dicated:NoSchedule": key "de dicated": name part must consist of alphanumeric characters`},
		"not-ready added": {[]string{"taint", "clusters", "taint-bad", notReady + ":NoSchedule"},
			`error: taint "cluster.flotilla.io/not-ready:NoSchedule": the hub manages cluster.flotilla.io/not-ready`},
		"not-ready removed": {[]string{"taint", "clusters", "taint-bad", notReady + "-"},
			`error: taint "cluster.flotilla.io/not-ready-": the hub manages cluster.flotilla.io/not-ready, adding and removing it as the cluster's Ready condition changes; it cannot be added or removed by hand`},
		"unknown resource": {[]string{"taint", "nodes", "taint-bad", "a:NoSchedule"},
			`error: unknown resource "nodes": flotilla taint taints clusters`},
		"no taint": {[]string{"taint", "clusters", "taint-bad"},
			`error: give at least one taint to add or remove`},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := flotilla(t, tc.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasPrefix(out, tc.want) {
				t.Errorf("output does not start with %q:\n%s", tc.want, out)
			}
		})
	}
	if diff := cmp.Diff([]string{notReady + ":NoExecute"}, taintsOf(t, "taint-bad")); diff != "" {
		t.Errorf("the cluster changed (-want +got):\n%s", diff)
	}
}

// racingClient lets the hub write the cluster between a command's read and
// its first write, as the hub's taint controller may.
type racingClient struct {
	client.Client
	race    func() error
	patches int
}

func (c *racingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.patches++
	if c.patches == 1 {
		if err := c.race(); err != nil {
			return err
		}
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

// TestTaintEditsKeepTheHubsTaint: the hub adds its not-ready taint while a
// cordon, a taint or an uncordon is under way. The API server rejects the
// command's stale write, the command reads again, and the hub's taint
// survives.
func TestTaintEditsKeepTheHubsTaint(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	addNotReady := func(name string) func() error {
		return func() error {
			var cl clusterv1alpha1.Cluster
			if err := env.Hub.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
				return err
			}
			cl.Spec.Taints = append(cl.Spec.Taints, corev1.Taint{Key: notReady, Effect: corev1.TaintEffectNoExecute})
			return env.Hub.Update(ctx, &cl)
		}
	}
	change, err := cordon.ParseTaints([]string{"dedicated=edge:NoSchedule"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		have []corev1.Taint
		edit func(c client.Client, name string) error
		want []string
	}{
		"cordon": {
			edit: func(c client.Client, name string) error {
				_, err := cordon.Cordon(ctx, c, name, true, time.Now())
				return err
			},
			want: []string{notReady + ":NoExecute", unschedulable + ":NoSchedule", unschedulable + ":NoExecute"},
		},
		"taint": {
			edit: func(c client.Client, name string) error {
				_, err := cordon.Taint(ctx, c, name, change, false, time.Now())
				return err
			},
			want: []string{notReady + ":NoExecute", "dedicated=edge:NoSchedule"},
		},
		"uncordon": {
			have: []corev1.Taint{{Key: unschedulable, Effect: corev1.TaintEffectNoSchedule}},
			edit: func(c client.Client, name string) error {
				_, err := cordon.Uncordon(ctx, c, name)
				return err
			},
			want: []string{notReady + ":NoExecute"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			clusterName := "race-" + name
			create(t, cluster(clusterName, tc.have...))
			c := &racingClient{Client: env.Hub, race: addNotReady(clusterName)}
			if err := tc.edit(c, clusterName); err != nil {
				t.Fatal(err)
			}
			if c.patches != 2 {
				t.Errorf("patches: got %d, want 2 (a conflict, then the write on a fresh read)", c.patches)
			}
			if diff := cmp.Diff(tc.want, taintsOf(t, clusterName)); diff != "" {
				t.Errorf("taints (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetClustersWideShowsTaints: get clusters -o wide lists the taints.
func TestGetClustersWideShowsTaints(t *testing.T) {
	framework.Require(t, env)
	create(t, cluster("wide-taints"))
	mustFlotilla(t, "cordon", "--drain", "wide-taints")
	out := mustFlotilla(t, "get", "clusters", "wide-taints", "-o", "wide")
	if !strings.Contains(out, "TAINTS") || !strings.Contains(out, unschedulable+":NoSchedule,"+unschedulable+":NoExecute") {
		t.Errorf("get clusters -o wide does not show the taints:\n%s", out)
	}
}

// TestConnectionFlags: every new command connects through --kubeconfig
// and --context, like the others.
func TestConnectionFlags(t *testing.T) {
	framework.Require(t, env)
	for _, args := range [][]string{
		{"cordon", "x"}, {"uncordon", "x"}, {"taint", "clusters", "x", "a:NoSchedule"}, {"rebalance", "deployment/x"},
	} {
		out, code := flotilla(t, append([]string{"--context", "nope"}, args...)...)
		if code != 1 || !strings.Contains(out, `context "nope" does not exist`) {
			t.Errorf("flotilla --context nope %s: exit code %d, output:\n%s", strings.Join(args, " "), code, out)
		}
	}
}
