package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// down marks w not Ready and tainted by the hub since at.
func down(w *clusterWrapper, at time.Time) *clusterWrapper {
	w.NotReady(clusterv1alpha1.ReasonUnreachable)
	added := metav1.NewTime(at)
	w.Spec.Taints = append(w.Spec.Taints, corev1.Taint{Key: clusterv1alpha1.TaintNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added})
	return w
}

// readyAt marks w Ready since at.
func readyAt(w *clusterWrapper, at time.Time) *clusterWrapper {
	w.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at)
	return w
}

func withFailover(s *workv1alpha1.BindingSpec, f policyv1alpha1.FailoverBehavior) *workv1alpha1.BindingSpec {
	s.Failover = &f
	return s
}

func seconds(n int32) *int32 { return &n }

func TestClusterFailover(t *testing.T) {
	weighted := MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj()
	opts := func(now time.Time) Options {
		return Options{Now: now, DefaultToleration: time.Minute, Sticky: true}
	}
	cases := map[string]struct {
		spec     *workv1alpha1.BindingSpec
		clusters []*clusterWrapper
		current  []workv1alpha1.TargetCluster
		now      time.Time
		want     []workv1alpha1.TargetCluster
		evicted  []string
		requeue  time.Duration
		noFit    string
	}{
		"within the default toleration: nothing moves": {
			spec:     weighted,
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), down(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-1", 2, "member-2", 1),
			now:      t0.Add(20 * time.Second),
			want:     targets("member-1", 2, "member-2", 1),
			requeue:  40 * time.Second,
		},
		"past the default toleration: the replica moves": {
			spec:     weighted,
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), down(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-1", 2, "member-2", 1),
			now:      t0.Add(time.Minute),
			want:     targets("member-1", 3),
			evicted:  []string{"member-2"},
		},
		"the policy's toleration wins over the hub's": {
			spec: withFailover(MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj(),
				policyv1alpha1.FailoverBehavior{Cluster: &policyv1alpha1.ClusterFailover{TolerationSeconds: seconds(10)}}),
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), down(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-1", 2, "member-2", 1),
			now:      t0.Add(10 * time.Second),
			want:     targets("member-1", 3),
			evicted:  []string{"member-2"},
		},
		"no other cluster can take the replicas: nothing moves": {
			spec:     MakeSpec(3).Affinity("member-2").Obj(),
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), down(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-2", 3),
			now:      t0.Add(time.Hour),
			evicted:  []string{"member-2"},
			noFit:    "no cluster passes the filters",
		},
		"a cordoned cluster keeps what it runs": {
			spec:     weighted,
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10).Taint(clusterv1alpha1.TaintUnschedulable, "", corev1.TaintEffectNoSchedule)},
			current:  targets("member-1", 2, "member-2", 1),
			now:      t0,
			want:     targets("member-1", 2, "member-2", 1),
		},
		"a drained cluster is left": {
			spec:     weighted,
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10).Taint(clusterv1alpha1.TaintUnschedulable, "", corev1.TaintEffectNoExecute)},
			current:  targets("member-1", 2, "member-2", 1),
			now:      t0,
			want:     targets("member-1", 3),
			evicted:  []string{"member-2"},
		},
		"after recovery the failed-over placement is kept (Manual failback)": {
			spec:     weighted,
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10)},
			current:  targets("member-1", 3),
			now:      t0,
			want:     targets("member-1", 3),
		},
		"Automatic failback waits for stableSeconds": {
			spec: withFailover(MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj(),
				policyv1alpha1.FailoverBehavior{Failback: &policyv1alpha1.Failback{Mode: policyv1alpha1.FailbackAutomatic, StableSeconds: seconds(30)}}),
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), readyAt(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-1", 3),
			now:      t0.Add(10 * time.Second),
			want:     targets("member-1", 3),
			requeue:  20 * time.Second,
		},
		"Automatic failback moves back once stable": {
			spec: withFailover(MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj(),
				policyv1alpha1.FailoverBehavior{Failback: &policyv1alpha1.Failback{Mode: policyv1alpha1.FailbackAutomatic, StableSeconds: seconds(30)}}),
			clusters: []*clusterWrapper{MakeCluster("member-1").Pods(10), readyAt(MakeCluster("member-2").Pods(10), t0)},
			current:  targets("member-1", 3),
			now:      t0.Add(30 * time.Second),
			want:     targets("member-1", 2, "member-2", 1),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := ScheduleWith(tc.spec, clusters(tc.clusters...), tc.current, opts(tc.now))
			if tc.noFit != "" {
				if err == nil || !strings.Contains(err.Error(), tc.noFit) {
					t.Fatalf("err = %v, want one containing %q", err, tc.noFit)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Clusters); diff != "" {
				t.Errorf("clusters (-want +got):\n%s", diff)
			}
			var evicted []string
			for _, e := range res.Evicted {
				evicted = append(evicted, e.Cluster)
			}
			if diff := cmp.Diff(tc.evicted, evicted); diff != "" {
				t.Errorf("evicted (-want +got):\n%s", diff)
			}
			if res.RequeueAfter != tc.requeue {
				t.Errorf("requeue after %v, want %v", res.RequeueAfter, tc.requeue)
			}
		})
	}
}

// TestRebalanceDecidesAfresh: without stickiness (a rebalance request
// changes the binding) the desired distribution comes back.
func TestRebalanceDecidesAfresh(t *testing.T) {
	spec := MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj()
	cs := clusters(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10))
	kept, err := ScheduleWith(spec, cs, targets("member-1", 3), Options{Now: t0, Sticky: true})
	if err != nil {
		t.Fatal(err)
	}
	if !kept.Kept || !cmp.Equal(kept.Desired, targets("member-1", 2, "member-2", 1)) {
		t.Errorf("kept = %v, desired %v", kept.Kept, kept.Desired)
	}
	wantDecisions := []workv1alpha1.ClusterDecision{
		chosen("member-1", 3, "chosen: keeps 3 replicas where they run (the desired distribution gives it 2; flotilla rebalance moves them)"),
		notChosen("member-2", "eligible; not chosen: the current placement is kept (the desired distribution gives it 1 replica; flotilla rebalance moves them)"),
	}
	if diff := cmp.Diff(wantDecisions, kept.Decisions); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	fresh, err := ScheduleWith(spec, cs, targets("member-1", 3), Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 2, "member-2", 1), fresh.Clusters); diff != "" {
		t.Errorf("rebalanced (-want +got):\n%s", diff)
	}
	if kept.Inputs == fresh.Inputs {
		t.Error("a kept decision and a fresh one have the same inputs")
	}
}

func TestPrimaryBackup(t *testing.T) {
	spec := MakeSpec(3).Obj()
	spec.Placement.PrimaryBackup = &policyv1alpha1.PrimaryBackup{Clusters: []string{"member-1", "member-2", "edge"}}
	all := func(m1 *clusterWrapper) []clusterv1alpha1.Cluster {
		return clusters(m1, MakeCluster("member-2").Pods(10), MakeCluster("edge").Pods(10), MakeCluster("other").Pods(10))
	}

	res, err := ScheduleWith(spec, all(MakeCluster("member-1").Pods(10)), nil, Options{Now: t0, Sticky: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 3), res.Clusters); diff != "" {
		t.Errorf("primary (-want +got):\n%s", diff)
	}
	wantDecisions := []workv1alpha1.ClusterDecision{
		notChosen("edge", "backup (preference 3 of 3): takes the workload if the clusters ahead of it fail"),
		chosen("member-1", 3, "chosen: the primary; runs all 3 replicas (Duplicated)"),
		notChosen("member-2", "backup (preference 2 of 3): takes the workload if the clusters ahead of it fail"),
		notChosen("other", "not in primaryBackup.clusters"),
	}
	if diff := cmp.Diff(wantDecisions, res.Decisions); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}

	// The primary fails past its toleration: the first backup takes over.
	res, err = ScheduleWith(spec, all(down(MakeCluster("member-1").Pods(10), t0)), targets("member-1", 3),
		Options{Now: t0.Add(time.Minute), DefaultToleration: time.Minute, Sticky: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-2", 3), res.Clusters); diff != "" {
		t.Errorf("failed over (-want +got):\n%s", diff)
	}
	if len(res.Evicted) != 1 || res.Evicted[0].Cluster != "member-1" {
		t.Errorf("evicted = %+v", res.Evicted)
	}

	// The primary is back: the workload stays on the backup until asked.
	res, err = ScheduleWith(spec, all(MakeCluster("member-1").Pods(10)), targets("member-2", 3), Options{Now: t0, Sticky: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-2", 3), res.Clusters); diff != "" || !res.Kept {
		t.Errorf("after recovery (-want +got), kept %v:\n%s", res.Kept, diff)
	}
	res, err = ScheduleWith(spec, all(MakeCluster("member-1").Pods(10)), targets("member-2", 3), Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 3), res.Clusters); diff != "" {
		t.Errorf("moved back on request (-want +got):\n%s", diff)
	}
}

func TestApplicationFailover(t *testing.T) {
	spec := withFailover(MakeSpec(2).Divided().Obj(),
		policyv1alpha1.FailoverBehavior{Application: &policyv1alpha1.ApplicationFailover{TolerationSeconds: 30}})
	cs := clusters(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10))
	cur := targets("member-1", 1, "member-2", 1)
	unhealthy := map[string]time.Time{"member-2": t0}

	res, err := ScheduleWith(spec, cs, cur, Options{Now: t0.Add(10 * time.Second), Sticky: true, UnhealthySince: unhealthy})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cur, res.Clusters); diff != "" || res.RequeueAfter != 20*time.Second {
		t.Errorf("within toleration (-want +got), requeue %v:\n%s", res.RequeueAfter, diff)
	}
	res, err = ScheduleWith(spec, cs, cur, Options{Now: t0.Add(30 * time.Second), Sticky: true, UnhealthySince: unhealthy})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 2), res.Clusters); diff != "" {
		t.Errorf("past toleration (-want +got):\n%s", diff)
	}
	if len(res.Evicted) != 1 || res.Evicted[0].Reason != workv1alpha1.EvictionApplicationFailure {
		t.Errorf("evicted = %+v", res.Evicted)
	}

	// Evicted for an application failure: not chosen again until the
	// eviction ends.
	spec.Evictions = []workv1alpha1.Eviction{{Cluster: "member-2", Reason: workv1alpha1.EvictionApplicationFailure,
		Message: "unhealthy", Deadline: metav1.NewTime(t0.Add(time.Hour))}}
	res, err = ScheduleWith(spec, cs, targets("member-1", 2), Options{Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 2), res.Clusters); diff != "" {
		t.Errorf("while evicted (-want +got):\n%s", diff)
	}
}

// TestFailoverBlockedIsQuiet: a binding whose only cluster failed, with
// nowhere to go, records why once: later passes write nothing, say nothing
// more, and do not spin.
func TestFailoverBlockedIsQuiet(t *testing.T) {
	spec := MakeSpec(3).Affinity("member-2").Obj()
	spec.Clusters = targets("member-2", 3)
	b := rb(spec)
	b.Status.Conditions = []metav1.Condition{{Type: workv1alpha1.ConditionScheduled, Status: metav1.ConditionTrue, Reason: workv1alpha1.ReasonScheduled}}
	b.Status.SchedulerObservedGeneration = 1
	b.Spec.Evictions = []workv1alpha1.Eviction{{Cluster: "member-3", Reason: workv1alpha1.EvictionClusterFailure,
		Deadline: metav1.NewTime(t0.Add(-time.Hour))}}
	f := newFixture(t, append(clusterObjs(MakeCluster("member-1").Pods(10), down(MakeCluster("member-2").Pods(10), t0)), b)...)
	clk := clocktesting.NewFakePassiveClock(t0.Add(2 * time.Minute))
	f.r = NewReconciler(f.client, f.events, WithClock(clk))

	f.reconcile("default", "web-deployment")
	var got workv1alpha1.ResourceBinding
	if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil {
		t.Fatal(err)
	}
	cond := meta.FindStatusCondition(got.Status.Conditions, workv1alpha1.ConditionScheduled)
	if cond == nil || cond.Reason != workv1alpha1.ReasonFailoverBlocked || !strings.Contains(cond.Message, "nothing is deleted") {
		t.Fatalf("Scheduled = %+v", cond)
	}
	if diff := cmp.Diff(targets("member-2", 3), got.Spec.Clusters); diff != "" || len(got.Spec.Evictions) != 0 {
		t.Errorf("placement changed (-want +got), or the expired eviction stayed (%v):\n%s", got.Spec.Evictions, diff)
	}
	if e := f.event(); !strings.HasPrefix(e, "Warning FailoverBlocked failover blocked") {
		t.Errorf("event %q", e)
	}
	rv := got.ResourceVersion
	for i := 0; i < 3; i++ {
		clk.SetTime(clk.Now().Add(time.Second))
		f.reconcile("default", "web-deployment")
	}
	if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != rv {
		t.Error("the binding was written again")
	}
	if e := f.event(); e != "" {
		t.Errorf("another event: %q", e)
	}
}

// TestStickyAfterOwnSpecWrite: the scheduler's own spec write bumps the
// generation; if its status write then fails, the next pass must still
// keep the placement rather than decide afresh.
func TestStickyAfterOwnSpecWrite(t *testing.T) {
	spec := MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj()
	spec.Clusters = targets("member-1", 3)
	b := rb(spec)
	b.Generation = 5
	b.Status.SchedulerObservedGeneration = 4
	b.Status.SchedulerObservedSpec = specFingerprint(spec)
	b.Status.Conditions = []metav1.Condition{{Type: workv1alpha1.ConditionScheduled, Status: metav1.ConditionTrue, Reason: workv1alpha1.ReasonScheduled}}
	f := newFixture(t, append(clusterObjs(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10)), b)...)
	f.reconcile("default", "web-deployment")
	var got workv1alpha1.ResourceBinding
	if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 3), got.Spec.Clusters); diff != "" {
		t.Errorf("replicas moved without a rebalance (-want +got):\n%s", diff)
	}
	// A rebalance request changes the spec: now they move.
	now := metav1.NewTime(t0)
	got.Spec.RescheduleTriggeredAt = &now
	if err := f.client.Update(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	f.reconcile("default", "web-deployment")
	if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 2, "member-2", 1), got.Spec.Clusters); diff != "" {
		t.Errorf("after rebalance (-want +got):\n%s", diff)
	}
}

// TestEvictionTurnsAreKept: bindings waiting for the eviction limit keep
// their turn; each is told when, rather than all racing for every token.
func TestEvictionTurnsAreKept(t *testing.T) {
	r := NewReconciler(nil, nil, WithFailover(FailoverOptions{ClusterToleration: time.Minute, EvictionRate: 1, EvictionBurst: 1}))
	keys := []types.NamespacedName{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	var delays []time.Duration
	for _, k := range keys {
		delays = append(delays, r.evictionDelay(k, t0))
	}
	if delays[0] != 0 || delays[1] != time.Second || delays[2] != 2*time.Second {
		t.Errorf("delays %v, want 0s 1s 2s", delays)
	}
	// b asks again before its turn: still 1 s from t0, not a new turn.
	if d := r.evictionDelay(keys[1], t0.Add(500*time.Millisecond)); d != 500*time.Millisecond {
		t.Errorf("b's second ask: %v", d)
	}
	if d := r.evictionDelay(keys[1], t0.Add(time.Second)); d != 0 {
		t.Errorf("b at its turn: %v", d)
	}
}

// offlinePull marks w a Pull cluster whose agent stopped heartbeating at,
// tainted not-ready by the hub.
func offlinePull(w *clusterWrapper, at time.Time, action clusterv1alpha1.OfflineAction) *clusterWrapper {
	down(w, at)
	w.Spec.SyncMode, w.Spec.Offline = clusterv1alpha1.Pull, action
	w.Status.Conditions = append(w.Status.Conditions, metav1.Condition{Type: clusterv1alpha1.ConditionOffline, Status: metav1.ConditionTrue, Reason: "LeaseExpired"})
	return w
}

// TestOfflinePullCluster: an Offline Pull cluster keeps its replicas by
// default (an edge site runs on its own); FailOver, on the cluster or in
// the policy, moves them after the toleration like any failed cluster.
func TestOfflinePullCluster(t *testing.T) {
	weighted := func(offline string) *workv1alpha1.BindingSpec {
		s := MakeSpec(3).Weight(2, "member-1").Weight(1, "edge").Obj()
		if offline != "" {
			s.Failover = &policyv1alpha1.FailoverBehavior{Cluster: &policyv1alpha1.ClusterFailover{Offline: offline}}
		}
		return s
	}
	cur := targets("edge", 1, "member-1", 2)
	cases := map[string]struct {
		spec   *workv1alpha1.BindingSpec
		action clusterv1alpha1.OfflineAction
		want   []workv1alpha1.TargetCluster
	}{
		"default: stays put":                    {spec: weighted(""), want: cur},
		"cluster says FailOver":                 {spec: weighted(""), action: clusterv1alpha1.OfflineFailOver, want: targets("member-1", 3)},
		"policy says FailOver":                  {spec: weighted("FailOver"), want: targets("member-1", 3)},
		"policy says StayPut, cluster FailOver": {spec: weighted("StayPut"), action: clusterv1alpha1.OfflineFailOver, want: cur},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cs := clusters(MakeCluster("member-1").Pods(10), offlinePull(MakeCluster("edge").Pods(10), t0, tc.action))
			res, err := ScheduleWith(tc.spec, cs, cur, Options{Now: t0.Add(time.Hour), DefaultToleration: time.Minute, Sticky: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Clusters); diff != "" {
				t.Errorf("clusters (-want +got):\n%s", diff)
			}
		})
	}
}
