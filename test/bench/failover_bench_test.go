package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// Settings of BenchmarkFailover.
const (
	// failoverWorkloads Deployments of 3 replicas, divided 2:1 between the
	// two members: failoverWorkloads replicas move when member-cluster-2
	// fails.
	failoverWorkloads  = 50
	failoverToleration = 10 * time.Second
	failoverTimeout    = 5 * time.Minute
)

// failoverProbeArgs are the hub's probe settings in the benchmark: a probe
// a second, Ready turns False after two failures.
var failoverProbeArgs = []string{"--cluster-probe-interval=1s", "--cluster-failure-threshold=2", "--cluster-probe-max-backoff=2s", "--cluster-probe-timeout=1s"}

// BenchmarkFailover measures cluster failover with a `flotilla hub` process:
// member-cluster-2's kube-apiserver is killed under failoverWorkloads
// Deployments divided 2:1 with a 10 s failover toleration, and the clock
// runs until every moved replica is Ready in member-cluster-1. It reports
// detection (kill until the hub marks the cluster not Ready and taints it),
// the toleration, the move (toleration end until every replica is Ready
// elsewhere), and, after the member is back, the clean-up of the moved
// objects there and a rebalance back to 2:1.
func BenchmarkFailover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runFailover(b)
	}
}

func runFailover(b *testing.B) {
	var specs []localfleet.MemberSpec
	for _, name := range benchMembers {
		specs = append(specs, localfleet.MemberSpec{Name: name, Nodes: 2, ControllerQPS: memberControllerQPS})
	}
	e, f, root, done := startBench(b, specs)
	defer done()
	e.startHub(b, f, root, failoverProbeArgs...)
	ctx := context.Background()
	home := e.home

	const ns = "failover"
	if err := ensureNamespace(ctx, e.hubCS, ns); err != nil {
		b.Fatal(err)
	}
	if err := e.hubCtrl.Create(ctx, weightedFailoverPolicy(ns)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < failoverWorkloads; i++ {
		d := oneReplica(ns, objName(i))
		d.Spec.Replicas = ptr.To[int32](3)
		if _, err := e.hubCS.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	e.progress("waiting for %d Deployments to run 2:1", failoverWorkloads)
	if err := e.waitReplicas(ctx, ns, map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1}); err != nil {
		b.Fatal(err)
	}

	e.progress("killing member-cluster-2's kube-apiserver")
	m2 := f.Members["member-cluster-2"]
	t0 := time.Now()
	if err := m2.StopAPIServer(); err != nil {
		b.Fatal(err)
	}
	var tainted time.Time
	if err := poll(ctx, 100*time.Millisecond, failoverTimeout, func() (bool, error) {
		var c clusterv1alpha1.Cluster
		if err := e.hubCtrl.Get(ctx, client.ObjectKey{Name: "member-cluster-2"}, &c); err != nil {
			return false, nil
		}
		for _, t := range c.Spec.Taints {
			if t.Key == clusterv1alpha1.TaintNotReady && t.TimeAdded != nil {
				tainted = time.Now()
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		b.Fatalf("member-cluster-2 never tainted: %v", err)
	}
	detection := tainted.Sub(t0)
	if err := e.waitMember(ctx, "member-cluster-1", ns, 3); err != nil {
		b.Fatal(err)
	}
	moved := time.Now()
	total := moved.Sub(t0)
	move := moved.Sub(tainted) - failoverToleration

	e.progress("restarting member-cluster-2")
	if err := m2.Restart(ctx); err != nil {
		b.Fatal(err)
	}
	back := time.Now()
	if err := poll(ctx, 200*time.Millisecond, failoverTimeout, func() (bool, error) {
		l, err := e.members["member-cluster-2"].AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	}); err != nil {
		b.Fatalf("moved objects not removed from member-cluster-2: %v", err)
	}
	cleaned := time.Since(back)

	e.progress("rebalancing")
	t1 := time.Now()
	for i := 0; i < failoverWorkloads; i++ {
		if out, err := runFlotilla(e.bin, "--kubeconfig", localfleet.HubKubeconfig(home), "rebalance", "-n", ns, "deployment/"+objName(i)); err != nil {
			b.Fatalf("flotilla rebalance: %v\n%s", err, out)
		}
	}
	if err := e.waitReplicas(ctx, ns, map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1}); err != nil {
		b.Fatal(err)
	}
	rebalanced := time.Since(t1)

	var sb strings.Builder
	fmt.Fprintf(&sb, "\nFailover: hub + 2 kwok members, %d Deployments x 3 replicas divided 2:1, toleration %s, hub probes %s\n\n",
		failoverWorkloads, failoverToleration, strings.Join(failoverProbeArgs, " "))
	fmt.Fprintf(&sb, "| %-62s | %-10s |\n|%s|%s|\n", "Measure", "Time", strings.Repeat("-", 64), strings.Repeat("-", 12))
	line := func(m string, d time.Duration) { fmt.Fprintf(&sb, "| %-62s | %-10s |\n", m, secs(d)) }
	line("Detection: apiserver killed -> cluster tainted not-ready", detection)
	line("Toleration (policy)", failoverToleration)
	line(fmt.Sprintf("Move: toleration over -> all %d moved replicas Ready elsewhere", failoverWorkloads), move)
	line("Total: killed -> all Ready elsewhere", total)
	line("Beyond the toleration (total - toleration; target < 10 s)", total-failoverToleration)
	line("Member back -> moved objects removed from it", cleaned)
	line("flotilla rebalance -> 2:1 again, all Ready", rebalanced)
	fmt.Print(sb.String())
	b.ReportMetric(detection.Seconds(), "failover_detection_s")
	b.ReportMetric(move.Seconds(), "failover_move_s")
	b.ReportMetric((total - failoverToleration).Seconds(), "failover_beyond_toleration_s")
	b.ReportMetric(rebalanced.Seconds(), "rebalance_s")
}

func weightedFailoverPolicy(ns string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weighted"},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Placement: policyv1alpha1.Placement{
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType:     policyv1alpha1.ReplicaSchedulingTypeDivided,
					ReplicaDivisionPreference: policyv1alpha1.ReplicaDivisionPreferenceWeighted,
					WeightPreference: &policyv1alpha1.ClusterPreferences{StaticWeightList: []policyv1alpha1.StaticClusterWeight{
						{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}}, Weight: 2},
						{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-2"}}, Weight: 1},
					}},
				},
			},
			Failover: &policyv1alpha1.FailoverBehavior{
				Cluster:            &policyv1alpha1.ClusterFailover{TolerationSeconds: ptr.To(int32(failoverToleration / time.Second))},
				GracePeriodSeconds: ptr.To[int32](60),
			},
		},
	}
}

// waitReplicas waits until every Deployment of ns runs with want's ready
// replicas in each member.
func (e *benchEnv) waitReplicas(ctx context.Context, ns string, want map[string]int32) error {
	for name, n := range want {
		if err := e.waitMember(ctx, name, ns, n); err != nil {
			return err
		}
	}
	return nil
}

// waitMember waits until member runs failoverWorkloads Deployments of ns,
// each with n ready replicas.
func (e *benchEnv) waitMember(ctx context.Context, member, ns string, n int32) error {
	var last string
	err := poll(ctx, 100*time.Millisecond, failoverTimeout, func() (bool, error) {
		l, err := e.members[member].AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		good := 0
		for i := range l.Items {
			if d := &l.Items[i]; ptr.Deref(d.Spec.Replicas, 0) == n && d.Status.ReadyReplicas == n && d.Status.UpdatedReplicas == n {
				good++
			}
		}
		last = fmt.Sprintf("%d of %d Deployments with %d ready replicas", good, failoverWorkloads, n)
		return good == failoverWorkloads, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %s: %w", member, last, err)
	}
	return nil
}

// runFlotilla runs the flotilla binary and returns its combined output.
func runFlotilla(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}
