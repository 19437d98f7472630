package propagation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// fastFailover moves templates off a cluster 5 s after it turns not Ready.
var fastFailover = &policyv1alpha1.FailoverBehavior{
	Cluster:            &policyv1alpha1.ClusterFailover{TolerationSeconds: ptr.To[int32](5)},
	GracePeriodSeconds: ptr.To[int32](120),
}

// runs checks that each cluster of want runs ns/name with that many Ready
// replicas, and that every other member runs none.
func runs(t *testing.T, ns, name string, want map[string]int32) func() error {
	return func() error {
		for _, c := range allMembers {
			d, err := memberDeployment(t, c, ns, name)
			if err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
			w, ok := want[c]
			switch {
			case !ok && d != nil:
				return fmt.Errorf("%s still runs %s", c, name)
			case !ok:
			case d == nil:
				return fmt.Errorf("%s does not run %s", c, name)
			case *d.Spec.Replicas != w || d.Status.ReadyReplicas != w:
				return fmt.Errorf("%s: %s has %d replicas, %d ready; want %d", c, name, *d.Spec.Replicas, d.Status.ReadyReplicas, w)
			}
		}
		return nil
	}
}

// TestFailover stops member-cluster-2's kube-apiserver (the real process)
// under three workloads:
//   - weighted 2:1 over member-cluster-1 and member-cluster-2: its replica
//     moves to member-cluster-1, does not come back by itself when the
//     cluster returns (no duplicates), and flotilla rebalance restores 2:1;
//   - placed on member-cluster-2 only: nothing is deleted anywhere and the
//     binding says why;
//   - primary-backup with member-cluster-2 the primary: it moves to the
//     backup and, when asked, back.
func TestFailover(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns = "failover"
	createNamespace(t, ns)

	weighted := policy(ns, "weighted", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"})
	weighted.Spec.Placement = policyv1alpha1.Placement{
		ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1", "member-cluster-2"}},
		ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
			ReplicaSchedulingType:     policyv1alpha1.ReplicaSchedulingTypeDivided,
			ReplicaDivisionPreference: policyv1alpha1.ReplicaDivisionPreferenceWeighted,
			WeightPreference: &policyv1alpha1.ClusterPreferences{StaticWeightList: []policyv1alpha1.StaticClusterWeight{
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}}, Weight: 2},
				{TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-2"}}, Weight: 1},
			}},
		},
	}
	weighted.Spec.Failover = fastFailover

	pinned := policy(ns, "pinned", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "pinned"}, "member-cluster-2")
	pinned.Spec.Failover = fastFailover

	pb := policy(ns, "primary-backup", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "pb"})
	pb.Spec.Placement.ClusterAffinity = nil
	pb.Spec.Placement.PrimaryBackup = &policyv1alpha1.PrimaryBackup{Clusters: []string{"member-cluster-2", "member-cluster-1"}}
	pb.Spec.Failover = fastFailover

	create(t, weighted, pinned, pb, deployment(ns, "web", 3), deployment(ns, "pinned", 2), deployment(ns, "pb", 2))
	framework.Eventually(t, timeout, runs(t, ns, "web", map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1}))
	framework.Eventually(t, timeout, runs(t, ns, "pinned", map[string]int32{"member-cluster-2": 2}))
	framework.Eventually(t, timeout, runs(t, ns, "pb", map[string]int32{"member-cluster-2": 2}))

	m2 := env.Member("member-cluster-2")
	if err := m2.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			if err := m2.Restart(ctx); err != nil {
				t.Fatalf("restart member-cluster-2: %v", err)
			}
		}
	}
	t.Cleanup(restart)

	// The hub taints the cluster, and the replicas move.
	framework.Eventually(t, timeout, func() error {
		var c clusterv1alpha1.Cluster
		if err := env.Hub.Get(ctx, client.ObjectKey{Name: "member-cluster-2"}, &c); err != nil {
			return err
		}
		for _, taint := range c.Spec.Taints {
			if taint.Key == clusterv1alpha1.TaintNotReady && taint.Effect == "NoExecute" {
				return nil
			}
		}
		return fmt.Errorf("member-cluster-2 has taints %v", c.Spec.Taints)
	})
	onlyUp := func(ns, name string, want map[string]int32) func() error {
		return func() error {
			d, err := memberDeployment(t, "member-cluster-1", ns, name)
			if err != nil {
				return err
			}
			if d == nil || *d.Spec.Replicas != want["member-cluster-1"] || d.Status.ReadyReplicas != want["member-cluster-1"] {
				return fmt.Errorf("member-cluster-1: %s is %v", name, d)
			}
			return nil
		}
	}
	framework.Eventually(t, timeout, onlyUp(ns, "web", map[string]int32{"member-cluster-1": 3}))
	framework.Eventually(t, timeout, onlyUp(ns, "pb", map[string]int32{"member-cluster-1": 2}))
	b, err := binding(t, ns, "web-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Spec.Evictions) != 1 || b.Spec.Evictions[0].Cluster != "member-cluster-2" || b.Spec.Evictions[0].Reason != workv1alpha1.EvictionClusterFailure {
		t.Errorf("web's evictions = %+v", b.Spec.Evictions)
	}

	// With nowhere to go, nothing moves and the binding says why.
	framework.Eventually(t, timeout, func() error {
		b, err := binding(t, ns, "pinned-deployment")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionScheduled)
		if c == nil || c.Reason != workv1alpha1.ReasonFailoverBlocked || !strings.Contains(c.Message, "nothing is deleted") {
			return fmt.Errorf("Scheduled = %+v", c)
		}
		if len(b.Spec.Clusters) != 1 || b.Spec.Clusters[0].Name != "member-cluster-2" {
			return fmt.Errorf("pinned's placement changed: %+v", b.Spec.Clusters)
		}
		return nil
	})

	// The cluster comes back: what moved is removed there, what could not
	// move is still there, and nothing moves back by itself.
	restart()
	framework.Eventually(t, 2*timeout, runs(t, ns, "web", map[string]int32{"member-cluster-1": 3}))
	framework.Eventually(t, timeout, runs(t, ns, "pinned", map[string]int32{"member-cluster-2": 2}))
	framework.Eventually(t, timeout, runs(t, ns, "pb", map[string]int32{"member-cluster-1": 2}))
	framework.Eventually(t, timeout, func() error {
		b, err := binding(t, ns, "web-deployment")
		if err != nil {
			return err
		}
		if len(b.Status.Clusters) != 1 || b.Status.Clusters[0].Cluster != "member-cluster-1" {
			return fmt.Errorf("web's cluster status lists %+v", b.Status.Clusters)
		}
		c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionScheduled)
		if c == nil || !strings.Contains(c.Message, "the current placement is kept") {
			return fmt.Errorf("Scheduled = %+v", c)
		}
		return hubReady(ctx, ns, "web", 3)
	})

	// Asked, the replicas go back to the desired distribution.
	for _, name := range []string{"web", "pb"} {
		if out, err := flotilla(t, "rebalance", "deployment/"+name, "-n", ns); err != nil {
			t.Fatalf("flotilla rebalance %s: %v\n%s", name, err, out)
		}
	}
	framework.Eventually(t, timeout, runs(t, ns, "web", map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1}))
	framework.Eventually(t, timeout, runs(t, ns, "pb", map[string]int32{"member-cluster-2": 2}))
}

// hubReady checks the template's aggregated status on the hub.
func hubReady(ctx context.Context, ns, name string, want int32) error {
	d := deployment(ns, name, 0)
	if err := env.Hub.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		return err
	}
	if d.Status.ReadyReplicas != want || d.Status.Replicas != want {
		return fmt.Errorf("hub: %s has %d replicas, %d ready; want %d", name, d.Status.Replicas, d.Status.ReadyReplicas, want)
	}
	return nil
}

// TestCordonAndDrain: a cordoned cluster keeps what it runs but gets
// nothing new; drained, what it runs moves away, and uncordoning moves
// nothing back by itself.
func TestCordonAndDrain(t *testing.T) {
	framework.Require(t, env)
	const ns = "drain"
	createNamespace(t, ns)
	both := []string{"member-cluster-1", "member-cluster-2"}
	divided := policy(ns, "divided", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "api"}, both...)
	divided.Spec.Placement.ReplicaScheduling = &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDivided}
	divided.Spec.Failover = fastFailover
	create(t, divided, deployment(ns, "api", 2))
	framework.Eventually(t, timeout, runs(t, ns, "api", map[string]int32{"member-cluster-1": 1, "member-cluster-2": 1}))

	if out, err := flotilla(t, "cordon", "member-cluster-2"); err != nil {
		t.Fatalf("cordon: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := flotilla(t, "uncordon", "member-cluster-2"); err != nil {
			t.Errorf("uncordon: %v\n%s", err, out)
		}
	})
	create(t, policy(ns, "copies", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "late"}, both...),
		deployment(ns, "late", 1))
	framework.Eventually(t, timeout, runs(t, ns, "late", map[string]int32{"member-cluster-1": 1}))
	if err := runs(t, ns, "api", map[string]int32{"member-cluster-1": 1, "member-cluster-2": 1})(); err != nil {
		t.Errorf("cordoning moved a running workload: %v", err)
	}

	if out, err := flotilla(t, "cordon", "--drain", "member-cluster-2"); err != nil {
		t.Fatalf("cordon --drain: %v\n%s", err, out)
	}
	framework.Eventually(t, timeout, runs(t, ns, "api", map[string]int32{"member-cluster-1": 2}))
	b, err := binding(t, ns, "api-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Spec.Evictions) != 1 || b.Spec.Evictions[0].Reason != workv1alpha1.EvictionTaint {
		t.Errorf("evictions = %+v, want member-cluster-2 for a taint", b.Spec.Evictions)
	}
	if out, err := flotilla(t, "uncordon", "member-cluster-2"); err != nil {
		t.Fatalf("uncordon: %v\n%s", err, out)
	}
	// The late workload now gets its copy; api stays where it is.
	framework.Eventually(t, timeout, runs(t, ns, "late", map[string]int32{"member-cluster-1": 1, "member-cluster-2": 1}))
	if err := runs(t, ns, "api", map[string]int32{"member-cluster-1": 2})(); err != nil {
		t.Errorf("uncordoning moved replicas back without a rebalance: %v", err)
	}
}
