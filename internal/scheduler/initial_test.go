package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// TestInitialPlacementIsTheSchedulersDecision: the placement the detector
// writes into a new binding is the one the scheduler then decides on the
// same clusters, so that the scheduler only records it; nothing fitting
// gives nil, left to the scheduler to explain.
func TestInitialPlacementIsTheSchedulersDecision(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clusters := []clusterv1alpha1.Cluster{MakeCluster("m2").Obj(), MakeCluster("m1").Obj(), MakeCluster("m3").NotReady("Unreachable").Obj()}
	for name, tc := range map[string]struct {
		spec *workv1alpha1.BindingSpec
		want []workv1alpha1.TargetCluster
	}{
		"weighted 2:1": {
			spec: MakeSpec(3).Divided().Weight(2, "m1").Weight(1, "m2").Obj(),
			want: []workv1alpha1.TargetCluster{{Name: "m1", Replicas: 2}, {Name: "m2", Replicas: 1}},
		},
		"nothing fits": {spec: MakeSpec(1).Affinity("elsewhere").Obj()},
	} {
		t.Run(name, func(t *testing.T) {
			got := InitialPlacement(tc.spec, clusters, time.Minute, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("InitialPlacement (-want +got):\n%s", diff)
			}
			res, err := ScheduleWith(tc.spec, clusters, got, Options{Now: now, DefaultToleration: time.Minute})
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ScheduleWith placed %v where InitialPlacement found nothing", res.Clusters)
				}
				return
			}
			if err != nil || !cmp.Equal(res.Clusters, got) {
				t.Fatalf("the scheduler decides %v (%v) on the initial placement %v: it would write spec.clusters again", res.Clusters, err, got)
			}
		})
	}
}

// TestStatusOfAPlacedBindingWaitsWhileBusy: a binding created placed,
// whose decision changes nothing, gets its Scheduled condition only once
// the hub is not busy, or once it has waited maxStatusDefer; a binding
// that must move is written at once, busy or not.
func TestStatusOfAPlacedBindingWaitsWhileBusy(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	placed := func(created time.Time, clusters ...workv1alpha1.TargetCluster) *workv1alpha1.ResourceBinding {
		b := rb(MakeSpec(3).Divided().Weight(2, "m1").Weight(1, "m2").Obj())
		b.CreationTimestamp = metav1.NewTime(created)
		b.Spec.Clusters = clusters
		return b
	}
	decided := targets("m1", 2, "m2", 1)
	for name, tc := range map[string]struct {
		binding *workv1alpha1.ResourceBinding
		busy    bool
		waits   bool
	}{
		"placed, busy: waits":                   {placed(now.Add(-time.Second), decided...), true, true},
		"placed, quiet: written":                {placed(now.Add(-time.Second), decided...), false, false},
		"placed, busy, waited enough":           {placed(now.Add(-maxStatusDefer), decided...), true, false},
		"not placed yet, busy: written at once": {placed(now.Add(-time.Second)), true, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, append(clusterObjs(MakeCluster("m1").Pods(10), MakeCluster("m2").Pods(10)), tc.binding)...)
			busy := tc.busy
			clk := clocktesting.NewFakeClock(now)
			f.r = NewReconciler(f.client, f.events, WithClock(clk), WithDeferStatus(func() bool { return busy }))
			if res := f.reconcileRequeue("default", "web-deployment"); res.RequeueAfter != 0 {
				t.Fatalf("RequeueAfter = %v: a waiting record is parked, not polled", res.RequeueAfter)
			}
			if parked := f.r.deferred.held.Len() == 1; parked != tc.waits {
				t.Fatalf("parked: %v, want %v", parked, tc.waits)
			}
			var got workv1alpha1.ResourceBinding
			if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decided, got.Spec.Clusters); diff != "" {
				t.Errorf("spec.clusters (-want +got):\n%s", diff)
			}
			cond := meta.FindStatusCondition(got.Status.Conditions, workv1alpha1.ConditionScheduled)
			if written := cond != nil; written == tc.waits {
				t.Fatalf("Scheduled condition %+v, want written: %v", cond, !tc.waits)
			}
			if !tc.waits {
				return
			}
			ctx := context.Background()
			// Still busy, and the wait is not over: nothing is released.
			clk.SetTime(now.Add(maxStatusDefer - 2*time.Second))
			f.r.releaseDeferred(ctx)
			if n := len(f.r.deferred.channel(true)); n != 0 {
				t.Fatalf("%d bindings released while busy and before their deadline", n)
			}
			// The burst passes: the releaser gives the binding back to
			// its controller, whose next look writes the record.
			busy = false
			f.r.releaseDeferred(ctx)
			select {
			case ev := <-f.r.deferred.channel(true):
				if ev.Object.GetNamespace() != "default" || ev.Object.GetName() != "web-deployment" {
					t.Fatalf("released %s/%s", ev.Object.GetNamespace(), ev.Object.GetName())
				}
			default:
				t.Fatal("nothing released once quiet")
			}
			if f.r.deferred.held.Len() != 0 {
				t.Fatalf("%d bindings still parked after the release", f.r.deferred.held.Len())
			}
			if res := f.reconcileRequeue("default", "web-deployment"); res.RequeueAfter != 0 {
				t.Fatalf("RequeueAfter = %v once quiet", res.RequeueAfter)
			}
			if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
				t.Fatal(err)
			}
			if !meta.IsStatusConditionTrue(got.Status.Conditions, workv1alpha1.ConditionScheduled) {
				t.Fatalf("Scheduled condition %+v once quiet", got.Status.Conditions)
			}
		})
	}
}

// TestPlacedBindingKeepsItsPlacementWhileItsRecordWaits: while the
// Scheduled condition of a binding created placed waits for a burst to
// pass, a change of the clusters' free capacity (dynamic weights) does not
// move the replicas that landed; a changed spec (generation 2) is decided
// afresh.
func TestPlacedBindingKeepsItsPlacementWhileItsRecordWaits(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	placedAt := targets("m1", 2, "m2", 1)
	for name, tc := range map[string]struct {
		generation int64
		want       []workv1alpha1.TargetCluster
	}{
		"unchanged since it was placed": {1, placedAt},
		"its spec changed since":        {2, targets("m1", 1, "m2", 2)},
	} {
		t.Run(name, func(t *testing.T) {
			b := rb(MakeSpec(3).Dynamic().Requests("1", "1Gi").Obj())
			b.Generation = tc.generation
			b.CreationTimestamp = metav1.NewTime(now.Add(-time.Second))
			b.Spec.Clusters = placedAt
			// Free capacity now favours m2: 2 to 4.
			capacity := func(cpu string) corev1.ResourceList {
				return corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("64Gi")}
			}
			f := newFixture(t, append(clusterObjs(MakeCluster("m1").Capacity(capacity("2"), nil, nil),
				MakeCluster("m2").Capacity(capacity("4"), nil, nil)), b)...)
			f.r = NewReconciler(f.client, f.events, WithClock(clocktesting.NewFakePassiveClock(now)), WithDeferStatus(func() bool { return true }))
			f.reconcileRequeue("default", "web-deployment")
			var got workv1alpha1.ResourceBinding
			if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Spec.Clusters); diff != "" {
				t.Errorf("spec.clusters (-want +got):\n%s", diff)
			}
		})
	}
}
