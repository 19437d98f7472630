package propagation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// counter sums a counter of the in-process hub over the series whose
// labels include match.
func counter(t *testing.T, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestRestartWritesNothingToMembers: a hub that restarts with everything
// already propagated re-reads the members and writes nothing to them, and
// nothing changes on the hub's bindings either.
func TestRestartWritesNothingToMembers(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const n = 10
	createNamespace(t, "restart")
	create(t, policy("restart", "all", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, "member-cluster-1", "member-cluster-2"))
	for i := range n {
		create(t, deployment("restart", fmt.Sprintf("app-%d", i), 1))
	}
	settled := func() error {
		var rbs workv1alpha1.ResourceBindingList
		if err := env.Hub.List(ctx, &rbs, client.InNamespace("restart")); err != nil {
			return err
		}
		if len(rbs.Items) != n {
			return fmt.Errorf("%d bindings, want %d", len(rbs.Items), n)
		}
		for _, b := range rbs.Items {
			if !meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha1.ConditionApplied) ||
				!meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha1.ConditionHealthy) {
				return fmt.Errorf("%s not applied and healthy yet: %+v", b.Name, b.Status.Conditions)
			}
		}
		var ds appsv1.DeploymentList
		if err := env.Hub.List(ctx, &ds, client.InNamespace("restart")); err != nil {
			return err
		}
		for _, d := range ds.Items {
			if d.Status.ReadyReplicas != 2 || d.Status.ObservedGeneration != d.Generation {
				return fmt.Errorf("hub shows %s %d ready (generation %d observed %d), want 2", d.Name, d.Status.ReadyReplicas, d.Generation, d.Status.ObservedGeneration)
			}
		}
		return nil
	}
	framework.Eventually(t, 2*timeout, settled)
	var before workv1alpha1.ResourceBindingList
	if err := env.Hub.List(ctx, &before, client.InNamespace("restart")); err != nil {
		t.Fatal(err)
	}

	writes := counter(t, "flotilla_member_writes_total", nil)
	synced := counter(t, "flotilla_propagation_reconcile_total", map[string]string{"controller": "execution", "result": "success"})
	start := time.Now()
	if err := hubRunner.Restart(); err != nil {
		t.Fatal(err)
	}
	// Every binding in the cluster is fully reconciled once by the new
	// hub: member caches listed, every object compared.
	var all workv1alpha1.ResourceBindingList
	if err := env.Hub.List(ctx, &all); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		got := counter(t, "flotilla_propagation_reconcile_total", map[string]string{"controller": "execution", "result": "success"}) - synced
		if got < float64(len(all.Items)) {
			return fmt.Errorf("%v of %d bindings reconciled since the restart", got, len(all.Items))
		}
		return nil
	})
	t.Logf("restarted hub reconciled %d bindings in %s", len(all.Items), time.Since(start).Round(time.Millisecond))
	if d := counter(t, "flotilla_member_writes_total", nil) - writes; d != 0 {
		t.Errorf("the restarted hub made %v writes to members, want 0", d)
	}
	var after workv1alpha1.ResourceBindingList
	if err := env.Hub.List(ctx, &after, client.InNamespace("restart")); err != nil {
		t.Fatal(err)
	}
	rv := map[string]string{}
	for _, b := range before.Items {
		rv[b.Name] = b.ResourceVersion
	}
	for _, b := range after.Items {
		if rv[b.Name] != b.ResourceVersion {
			t.Errorf("binding %s was written by the restarted hub (resourceVersion %s → %s)", b.Name, rv[b.Name], b.ResourceVersion)
		}
	}
}
