package scheduler

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

type controllerFixture struct {
	t      *testing.T
	client client.Client
	events *events.FakeRecorder
	r      *Reconciler
}

func newFixture(t *testing.T, objs ...client.Object) *controllerFixture {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).
		WithObjects(objs...).
		WithStatusSubresource(&workv1alpha1.ResourceBinding{}, &workv1alpha1.ClusterResourceBinding{}, &clusterv1alpha1.Cluster{}).
		Build()
	rec := events.NewFakeRecorder(16)
	return &controllerFixture{t: t, client: c, events: rec, r: NewReconciler(c, rec)}
}

func (f *controllerFixture) reconcile(namespace, name string) {
	f.t.Helper()
	if res := f.reconcileRequeue(namespace, name); res.RequeueAfter != 0 {
		f.t.Fatalf("Reconcile = %+v", res)
	}
}

// reconcileRequeue reconciles and returns the result, failing on error.
func (f *controllerFixture) reconcileRequeue(namespace, name string) ctrl.Result {
	f.t.Helper()
	req := ctrl.Request{}
	req.Namespace, req.Name = namespace, name
	res, err := f.r.Reconcile(context.Background(), req)
	if err != nil {
		f.t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	return res
}

// event returns the next event, or "" when there is none.
func (f *controllerFixture) event() string {
	select {
	case e := <-f.events.Events:
		return e
	default:
		return ""
	}
}

func rb(spec *workv1alpha1.BindingSpec) *workv1alpha1.ResourceBinding {
	return &workv1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-deployment", Generation: 1},
		Spec:       *spec,
	}
}

func clusterObjs(ws ...*clusterWrapper) []client.Object {
	out := make([]client.Object, len(ws))
	for i, w := range ws {
		c := w.Obj()
		out[i] = &c
	}
	return out
}

func TestReconcileSchedulesOnceAndStaysQuiet(t *testing.T) {
	objs := clusterObjs(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(10),
		MakeCluster("edge").Taint("dedicated", "edge", corev1.TaintEffectNoSchedule))
	f := newFixture(t, append(objs, rb(MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj()))...)

	f.reconcile("default", "web-deployment")
	var got workv1alpha1.ResourceBinding
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-1", 2, "member-2", 1), got.Spec.Clusters); diff != "" {
		t.Errorf("spec.clusters (-want +got):\n%s", diff)
	}
	cond := meta.FindStatusCondition(got.Status.Conditions, workv1alpha1.ConditionScheduled)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != workv1alpha1.ReasonScheduled ||
		cond.Message != "scheduled to 2 clusters: member-1 (2 replicas), member-2 (1 replica)" || cond.ObservedGeneration != got.Generation {
		t.Errorf("Scheduled condition = %+v", cond)
	}
	if got.Status.SchedulerObservedGeneration != got.Generation || got.Status.SchedulingInputs == "" {
		t.Errorf("observed generation %d (binding %d), inputs %q", got.Status.SchedulerObservedGeneration, got.Generation, got.Status.SchedulingInputs)
	}
	wantDecisions := []workv1alpha1.ClusterDecision{
		notChosen("edge", "taint dedicated=edge:NoSchedule is not tolerated"),
		chosen("member-1", 2, "chosen: weight 2 of 3 → 2 replicas"),
		chosen("member-2", 1, "chosen: weight 1 of 3 → 1 replica"),
	}
	if diff := cmp.Diff(wantDecisions, got.Status.Decisions); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if e := f.event(); !strings.HasPrefix(e, "Normal Scheduled scheduled to 2 clusters") {
		t.Errorf("event %q", e)
	}

	// Nothing changed: nothing is written and nothing is said.
	rv := got.ResourceVersion
	f.reconcile("default", "web-deployment")
	// An unrelated change: the tainted cluster's capacity and a chosen
	// cluster's free capacity.
	for name, free := range map[string]int64{"edge": 1, "member-1": 3} {
		var c clusterv1alpha1.Cluster
		if err := f.client.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
			t.Fatal(err)
		}
		c.Status.ResourceSummary = MakeCluster(name).Pods(free).Status.ResourceSummary
		if err := f.client.Status().Update(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
	}
	f.reconcile("default", "web-deployment")
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != rv {
		t.Errorf("the binding was written again: resourceVersion %s, was %s", got.ResourceVersion, rv)
	}
	if e := f.event(); e != "" {
		t.Errorf("unexpected event %q", e)
	}

	// A chosen cluster is drained (NoExecute): the decision is made again.
	// (Not being Ready is not enough: a cluster keeps what it runs through
	// a blip; nor is NoSchedule, which only keeps new templates off.)
	var m2 clusterv1alpha1.Cluster
	if err := f.client.Get(context.Background(), client.ObjectKey{Name: "member-2"}, &m2); err != nil {
		t.Fatal(err)
	}
	m2.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}
	if err := f.client.Update(context.Background(), &m2); err != nil {
		t.Fatal(err)
	}
	// The binding comes back when the eviction's grace period ends.
	if res := f.reconcileRequeue("default", "web-deployment"); res.RequeueAfter < 9*time.Minute || res.RequeueAfter > defaultGracePeriod {
		t.Errorf("requeue after %v, want about the grace period", res.RequeueAfter)
	}
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
		t.Fatal(err)
	}
	// member-1 has room for 3 more besides the 2 it runs.
	if diff := cmp.Diff(targets("member-1", 3), got.Spec.Clusters); diff != "" {
		t.Errorf("after member-2 went away (-want +got):\n%s", diff)
	}
	if len(got.Spec.Evictions) != 1 || got.Spec.Evictions[0].Cluster != "member-2" || got.Spec.Evictions[0].Reason != workv1alpha1.EvictionTaint ||
		got.Spec.Evictions[0].Replicas != 1 {
		t.Errorf("evictions = %+v, want member-2's 1 replica for a taint", got.Spec.Evictions)
	}
	if e := f.event(); !strings.HasPrefix(e, "Warning Evicted moving away from cluster member-2: taint maintenance:NoExecute is not tolerated") {
		t.Errorf("event %q", e)
	}
	if e := f.event(); !strings.HasPrefix(e, "Normal Scheduled scheduled to 1 cluster: member-1 (3 replicas)") {
		t.Errorf("event %q", e)
	}
}

func TestReconcileNoClusterFits(t *testing.T) {
	crb := &workv1alpha1.ClusterResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ns-team-a", Generation: 4},
		Spec:       *MakeSpec(0).Resource("v1", "Namespace").Obj(),
	}
	// member-2 runs it but stopped serving the kind; member-1 is not Ready
	// and does not run it.
	crb.Spec.Clusters = targets("member-2", 0)
	objs := clusterObjs(MakeCluster("member-1").NotReady(clusterv1alpha1.ReasonUnreachable),
		MakeCluster("member-2").Serves("apps/v1", "Deployment"))
	f := newFixture(t, append(objs, crb)...)

	f.reconcile("", "ns-team-a")
	var got workv1alpha1.ClusterResourceBinding
	if err := f.client.Get(context.Background(), client.ObjectKey{Name: "ns-team-a"}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(targets("member-2", 0), got.Spec.Clusters); diff != "" {
		t.Errorf("a failed decision must keep spec.clusters (-want +got):\n%s", diff)
	}
	cond := meta.FindStatusCondition(got.Status.Conditions, workv1alpha1.ConditionScheduled)
	wantMsg := "no cluster passes the filters: member-1: not Ready (Unreachable); member-2: cluster does not serve v1 Namespace"
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != workv1alpha1.ReasonNoClusterFits || cond.Message != wantMsg {
		t.Errorf("Scheduled condition = %+v, want message %q", cond, wantMsg)
	}
	if got.Status.SchedulerObservedGeneration != 4 {
		t.Errorf("observed generation %d", got.Status.SchedulerObservedGeneration)
	}
	if e := f.event(); e != "Warning NoClusterFits "+wantMsg {
		t.Errorf("event %q", e)
	}

	// Trying again with nothing changed writes nothing.
	rv := got.ResourceVersion
	f.reconcile("", "ns-team-a")
	if err := f.client.Get(context.Background(), client.ObjectKey{Name: "ns-team-a"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != rv || f.event() != "" {
		t.Error("a repeated failure was written or announced again")
	}
}

func TestReconcileSkipsDeletedBindings(t *testing.T) {
	b := rb(MakeSpec(1).Obj())
	b.DeletionTimestamp = &metav1.Time{Time: metav1.Now().Time}
	b.Finalizers = []string{workv1alpha1.FinalizerCleanup}
	f := newFixture(t, append(clusterObjs(MakeCluster("member-1")), b)...)
	f.reconcile("default", "web-deployment")
	f.reconcile("default", "gone")
	var got workv1alpha1.ResourceBinding
	if err := f.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "web-deployment"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Clusters) != 0 || len(got.Status.Conditions) != 0 {
		t.Errorf("a binding being deleted was scheduled: %+v", got)
	}
}

func TestSchedulingChanged(t *testing.T) {
	base := MakeCluster("m").Region("eu").Pods(5).Serves("v1", "Pod")
	cases := map[string]struct {
		change func(*clusterWrapper)
		want   bool
	}{
		"capacity":      {func(w *clusterWrapper) { w.Pods(1) }, false},
		"probe message": {func(w *clusterWrapper) { w.Status.Conditions[0].Message = "slow" }, false},
		"probe time":    {func(w *clusterWrapper) { now := metav1.Now(); w.Status.LastProbeTime = &now }, false},
		"readiness":     {func(w *clusterWrapper) { w.NotReady(clusterv1alpha1.ReasonUnreachable) }, true},
		"labels":        {func(w *clusterWrapper) { w.Label("team", "a") }, true},
		"region":        {func(w *clusterWrapper) { w.Region("us") }, true},
		"taint":         {func(w *clusterWrapper) { w.Taint("k", "", corev1.TaintEffectNoSchedule) }, true},
		"served APIs":   {func(w *clusterWrapper) { w.Serves("apps/v1", "Deployment") }, true},
		"deletion":      {func(w *clusterWrapper) { w.Deleting() }, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := base.Obj()
			w := &clusterWrapper{*old.DeepCopy()}
			tc.change(w)
			cur := w.Obj()
			if got := schedulingChanged(&old, &cur); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterEvents(t *testing.T) {
	refs := []bindingRef{
		{req: ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "a", Name: "scheduled"}}, scheduled: true},
		{req: ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "a", Name: "pending"}}},
	}
	h := NewReconciler(nil, nil).clusterEvents(func(context.Context) ([]bindingRef, error) { return refs, nil })
	old := MakeCluster("m").Pods(5).Obj()
	cases := map[string]struct {
		cur  clusterv1alpha1.Cluster
		want []string
	}{
		"capacity wakes the bindings not scheduled": {MakeCluster("m").Pods(1).Obj(), []string{"a/pending"}},
		"readiness wakes every binding":             {MakeCluster("m").Pods(5).NotReady("Unreachable").Obj(), []string{"a/pending", "a/scheduled"}},
		"a probe message wakes none":                {func() clusterv1alpha1.Cluster { c := old.DeepCopy(); c.Status.Conditions[0].Message = "x"; return *c }(), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			o, c := old.DeepCopy(), tc.cur.DeepCopy()
			h.Update(context.Background(), event.UpdateEvent{ObjectOld: o, ObjectNew: c}, q)
			var got []string
			for q.Len() > 0 {
				item, _ := q.Get()
				got = append(got, item.String())
				q.Done(item)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("enqueued (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	if got := truncate("ab→cd", 6); got != "ab..." {
		t.Errorf("truncate cut a rune: %q", got)
	}
	if got := truncate("abc", 6); got != "abc" {
		t.Errorf("truncate changed a short string: %q", got)
	}
	res := Result{Clusters: targets("member-1", 0, "member-2", 0), AffinityName: "backup"}
	if got, want := scheduledMessage(res), `scheduled to 2 clusters: member-1, member-2, with clusterAffinities group "backup"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBindingEventsDelayOnlyPlacedBindingsOfTheDetector(t *testing.T) {
	binding := func(placed, managed bool) *workv1alpha1.ResourceBinding {
		b := &workv1alpha1.ResourceBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "app-deployment"}}
		if placed {
			b.Spec.Clusters = []workv1alpha1.TargetCluster{{Name: "m1"}}
		}
		if managed {
			b.Labels = map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}
		}
		return b
	}
	cases := map[string]struct {
		h       *bindingEvents
		b       *workv1alpha1.ResourceBinding
		initial bool
		delayed bool
	}{
		"placed by the detector":            {&bindingEvents{delay: true}, binding(true, true), false, true},
		"not placed: the scheduler decides": {&bindingEvents{delay: true}, binding(false, true), false, false},
		"placed by someone else":            {&bindingEvents{delay: true}, binding(true, false), false, false},
		"the initial list":                  {&bindingEvents{delay: true}, binding(true, true), true, false},
		"records never deferred":            {&bindingEvents{}, binding(true, true), false, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			tc.h.Create(context.Background(), event.CreateEvent{Object: tc.b, IsInInitialList: tc.initial}, q)
			if got := q.Len(); got != 0 == tc.delayed {
				t.Fatalf("queued at once: %d, want delayed %v", got, tc.delayed)
			}
			if !tc.delayed {
				return
			}
			deadline := time.Now().Add(10 * firstRecordDelay)
			for q.Len() == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("not queued %s after the create", 10*firstRecordDelay)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if item, _ := q.Get(); item.String() != "a/app-deployment" {
				t.Fatalf("queued %s", item)
			}
		})
	}
}
