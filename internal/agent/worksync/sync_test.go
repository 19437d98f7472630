package worksync

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// syncAll runs the engine's sync of every Work it knows, once.
func syncAll(t *testing.T, e *Engine) {
	t.Helper()
	e.mu.Lock()
	var names []string
	for n := range e.works {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, n := range names {
		if _, err := e.syncWork(context.Background(), n); err != nil {
			t.Fatalf("sync %s: %v", n, err)
		}
	}
}

func reasons(e *Engine, name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.works[name].results {
		out = append(out, r.Reason)
	}
	return out
}

func TestSyncConflict(t *testing.T) {
	for name, tc := range map[string]struct {
		cr      policyv1alpha1.ConflictResolution
		reason  string
		applied bool
	}{
		"Abort leaves someone else's object alone": {policyv1alpha1.ConflictAbort, workv1alpha1.ReasonConflict, false},
		"Overwrite takes it over":                  {policyv1alpha1.ConflictOverwrite, workv1alpha1.ReasonApplied, true},
	} {
		t.Run(name, func(t *testing.T) {
			foreign := makeConfigMap("shop", "web").unmanaged().obj()
			c := newFakeCluster(foreign)
			e := testEngine(t, t.TempDir(), c)
			w := makeWork("shop.web", "w1", 1, makeConfigMap("shop", "web").binding("b1").obj())
			w.Spec.ConflictResolution = tc.cr
			e.upsert(w)
			after, err := e.syncWork(context.Background(), w.Name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tc.reason}, reasons(e, w.Name)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			live := c.cached(refOf(foreign))
			if got := live.GetLabels()[workv1alpha1.LabelBindingUID] == "b1"; got != tc.applied {
				t.Errorf("object taken over: %v, want %v", got, tc.applied)
			}
			if !tc.applied && after != e.o.ConflictRecheck {
				t.Errorf("a conflict looks again after %s, want %s", after, e.o.ConflictRecheck)
			}
			// Deleting the Work never deletes the object it did not take.
			e.listed(nil)
			syncAll(t, e)
			if got := c.has("ConfigMap", "shop", "web"); got == tc.applied {
				t.Errorf("object still there after the Work's deletion: %v", got)
			}
		})
	}
}

// TestDeletesOnlyOnHubWord: objects leave the cluster only when the hub
// says their Work is gone. Going offline, restarting offline and
// correcting drift offline remove nothing.
func TestDeletesOnlyOnHubWord(t *testing.T) {
	dir := t.TempDir()
	c := newFakeCluster()
	e := testEngine(t, dir, c)
	a := makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("ba").obj(), makeConfigMap("shop", "cfg").dependency().obj())
	b := makeWork("shop.b", "wb", 1, makeConfigMap("shop", "b").binding("bb").obj(), makeConfigMap("shop", "cfg").dependency().obj())
	kept := makeWork("shop.kept", "wk", 1, makeConfigMap("shop", "kept").binding("bk").obj())
	kept.Spec.PreserveResourcesOnDeletion = true
	e.listed([]*workv1alpha1.Work{a, b, kept})
	syncAll(t, e)
	for _, n := range []string{"a", "b", "cfg", "kept"} {
		if !c.has("ConfigMap", "shop", n) {
			t.Fatalf("ConfigMap %s not applied", n)
		}
	}

	// The hub goes away and the agent restarts: it resumes from disk,
	// corrects a local deletion, and deletes nothing.
	_ = e.store.close()
	e = testEngine(t, dir, c)
	if got := len(e.works); got != 3 {
		t.Fatalf("resumed %d works, want 3", got)
	}
	c.remove("ConfigMap", "shop", "a")
	syncAll(t, e)
	if !c.has("ConfigMap", "shop", "a") {
		t.Error("a locally deleted object was not restored offline")
	}
	if d := c.takeDeletes(); len(d) != 0 {
		t.Fatalf("deleted %v with the hub unreachable", d)
	}

	// A delete for an older Work of the same name changes nothing.
	e.gone("shop.a", "an-older-uid")
	syncAll(t, e)
	if d := c.takeDeletes(); len(d) != 0 {
		t.Fatalf("deleted %v on the word of another Work's deletion", d)
	}

	// The hub's list after reconnecting lacks b and kept: b's objects go,
	// except the dependency a still needs; kept's objects stay.
	e.listed([]*workv1alpha1.Work{a})
	syncAll(t, e)
	if diff := cmp.Diff([]string{"ConfigMap shop/b"}, c.takeDeletes()); diff != "" {
		t.Errorf("deletes after the list (-want +got):\n%s", diff)
	}
	if !c.has("ConfigMap", "shop", "kept") {
		t.Error("preserveResourcesOnDeletion did not keep the object")
	}
	if got := len(e.works); got != 1 {
		t.Errorf("%d works left, want 1", got)
	}
	recs, _ := e.store.list()
	if len(recs) != 1 || recs[0].Name != "shop.a" {
		t.Errorf("records left in the store: %d", len(recs))
	}

	// A watch delete of a removes the rest, dependency included.
	e.gone("shop.a", "wa")
	syncAll(t, e)
	if diff := cmp.Diff([]string{"ConfigMap shop/a", "ConfigMap shop/cfg"}, c.takeDeletes()); diff != "" {
		t.Errorf("deletes after the watch event (-want +got):\n%s", diff)
	}
}

// TestSpecChangePrunes: a manifest that leaves a Work is removed, once
// the new spec is applied; the removal survives a crash in between because
// the inventory is written before anything is applied.
func TestSpecChangePrunes(t *testing.T) {
	dir := t.TempDir()
	c := newFakeCluster()
	e := testEngine(t, dir, c)
	e.upsert(makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("ba").obj(), makeConfigMap("shop", "old").binding("ba").obj()))
	syncAll(t, e)
	e.upsert(makeWork("shop.a", "wa", 2, makeConfigMap("shop", "a").binding("ba").data("v2").obj()))
	// Crash before the worker ran: the new spec and the full inventory are
	// on disk.
	_ = e.store.close()
	e = testEngine(t, dir, c)
	syncAll(t, e)
	if diff := cmp.Diff([]string{"ConfigMap shop/old"}, c.takeDeletes()); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
	if got := c.cached(objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}).Object["data"]; !cmp.Equal(got, map[string]any{"k": "v2"}) {
		t.Errorf("data = %v, want the new spec's", got)
	}
	recs, _ := e.store.list()
	if len(recs) != 1 || len(recs[0].Inventory) != 1 || recs[0].Generation != 2 {
		t.Errorf("record after the prune: %+v", recs)
	}
}

// TestBindingMadeAgain: a Work whose binding was made again (new binding
// UID) takes over the objects the previous binding put there, rather than
// reporting a conflict with itself; and still removes them when dropped.
func TestBindingMadeAgain(t *testing.T) {
	c := newFakeCluster(makeConfigMap("shop", "foreign").unmanaged().obj())
	e := testEngine(t, t.TempDir(), c)
	e.upsert(makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("old").obj(), makeConfigMap("shop", "b").binding("old").obj()))
	syncAll(t, e)
	// In place (same Work) or made again (new Work UID), while the agent
	// was away: the new binding's manifests.
	e.listed([]*workv1alpha1.Work{makeWork("shop.a", "wa-2", 1,
		makeConfigMap("shop", "a").binding("new").obj(), makeConfigMap("shop", "foreign").binding("new").obj())})
	syncAll(t, e)
	if diff := cmp.Diff([]string{workv1alpha1.ReasonApplied, workv1alpha1.ReasonConflict}, reasons(e, "shop.a")); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if got := c.cached(objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}).GetLabels()[workv1alpha1.LabelBindingUID]; got != "new" {
		t.Errorf("binding label of the taken-over object = %q", got)
	}
	if diff := cmp.Diff([]string{"ConfigMap shop/b"}, c.takeDeletes()); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
	if !c.has("ConfigMap", "shop", "foreign") {
		t.Error("someone else's object was deleted")
	}
}

func TestSuspendedAppliesAndRemovesNothing(t *testing.T) {
	c := newFakeCluster()
	e := testEngine(t, t.TempDir(), c)
	w := makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("ba").obj())
	e.upsert(w)
	syncAll(t, e)
	s := w.DeepCopy()
	s.Generation = 2
	s.Spec.SuspendDispatching = true
	e.upsert(s)
	c.remove("ConfigMap", "shop", "a")
	syncAll(t, e)
	if c.has("ConfigMap", "shop", "a") {
		t.Error("a suspended Work corrected drift")
	}
	if diff := cmp.Diff([]string{workv1alpha1.ReasonSuspended}, reasons(e, w.Name)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	e.listed(nil)
	syncAll(t, e)
	if d := c.takeDeletes(); len(d) != 0 {
		t.Errorf("a Work deleted while suspended removed %v", d)
	}
}

func TestDriftCounted(t *testing.T) {
	c := newFakeCluster()
	e := testEngine(t, t.TempDir(), c)
	e.upsert(makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("ba").obj()))
	syncAll(t, e)
	ref := objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}
	edited := c.cached(ref)
	edited.Object["data"] = map[string]any{"k": "edited"}
	c.mu.Lock()
	c.put(edited)
	c.mu.Unlock()
	syncAll(t, e)
	c.remove("ConfigMap", "shop", "a")
	syncAll(t, e)
	for cause, want := range map[string]float64{"changed": 1, "deleted": 1} {
		if got := counterValue(t, e.metrics.driftCorrections.WithLabelValues(cause)); got != want {
			t.Errorf("drift corrections (%s) = %v, want %v", cause, got, want)
		}
	}
	if got := c.cached(ref).Object["data"]; !cmp.Equal(got, map[string]any{"k": "v"}) {
		t.Errorf("data = %v after the correction", got)
	}
}

func TestApplyFailureReportsTheClusterError(t *testing.T) {
	c := newFakeCluster()
	c.failNext = errors.New(`admission webhook "deny.example.com" denied the request`)
	e := testEngine(t, t.TempDir(), c)
	e.upsert(makeWork("shop.a", "wa", 1, makeConfigMap("shop", "a").binding("ba").obj()))
	if _, err := e.syncWork(context.Background(), "shop.a"); err == nil {
		t.Fatal("a failed apply was not retried")
	}
	st := workStatus(1, e.works["shop.a"].results, nil, c.cached)
	if st.Manifests[0].Reason != workv1alpha1.ReasonApplyFailed ||
		st.Manifests[0].Message != `apply ConfigMap shop/a: admission webhook "deny.example.com" denied the request` {
		t.Errorf("manifest status = %+v", st.Manifests[0])
	}
	if c := st.Conditions[0]; c.Type != workv1alpha1.WorkConditionApplied || c.Status != metav1.ConditionFalse || c.Reason != workv1alpha1.ReasonApplyFailed {
		t.Errorf("Applied condition = %+v", c)
	}
	syncAll(t, e)
	st = workStatus(1, e.works["shop.a"].results, st.Conditions, c.cached)
	if c := st.Conditions[0]; c.Status != metav1.ConditionTrue {
		t.Errorf("Applied condition after the retry = %+v", c)
	}
	if !sameStatus(st, workStatus(1, e.works["shop.a"].results, st.Conditions, c.cached)) {
		t.Error("the same status computed twice differs")
	}
}

// recordingEvents records what the hub watcher reports.
type recordingEvents struct {
	mu          sync.Mutex
	lists       [][]string
	upsertNames []string
	gones       []string
	// listedCh and goneCh get a value for each list and each gone.
	listedCh, goneCh chan struct{}
}

func (r *recordingEvents) upsert(w *workv1alpha1.Work) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.upsertNames = append(r.upsertNames, w.Name)
}

func (r *recordingEvents) gone(name, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gones = append(r.gones, name)
	r.goneCh <- struct{}{}
}

func (r *recordingEvents) listed(ws []*workv1alpha1.Work) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	r.lists = append(r.lists, names)
	r.listedCh <- struct{}{}
}

// listOnly is a ListerWatcher without watch-list support, so that the
// reflector lists.
type listOnly struct{ *cache.ListWatch }

func (listOnly) IsWatchListSemanticsUnSupported() bool { return true }

// TestFailedListsSayNothing runs a real reflector against a hub that
// fails to list: the engine hears nothing until a list succeeds.
func TestFailedListsSayNothing(t *testing.T) {
	ev := &recordingEvents{listedCh: make(chan struct{}, 10), goneCh: make(chan struct{}, 10)}
	fw := watch.NewFake()
	failures := make(chan struct{}, 10)
	var mu sync.Mutex
	up := false
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, _ metav1.ListOptions) (runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			if !up {
				select {
				case failures <- struct{}{}:
				default:
				}
				return nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
			}
			l := &workv1alpha1.WorkList{}
			l.ResourceVersion = "10"
			l.Items = []workv1alpha1.Work{*makeWork("shop.a", "wa", 1)}
			return l, nil
		},
		WatchFuncWithContext: func(ctx context.Context, _ metav1.ListOptions) (watch.Interface, error) {
			return fw, nil
		},
	}
	r := cache.NewReflectorWithOptions(listOnly{lw}, &workv1alpha1.Work{}, newHubStore(ev), cache.ReflectorOptions{
		Backoff: &wait.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 1000},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.RunWithContext(ctx)
	for range 3 {
		<-failures
	}
	ev.mu.Lock()
	if len(ev.lists)+len(ev.gones)+len(ev.upsertNames) != 0 {
		t.Errorf("failed lists produced events: %+v", ev)
	}
	ev.mu.Unlock()
	mu.Lock()
	up = true
	mu.Unlock()
	select {
	case <-ev.listedCh:
	case <-time.After(10 * time.Second):
		t.Fatal("no list event after the hub came back")
	}
	ev.mu.Lock()
	if diff := cmp.Diff([][]string{{"shop.a"}}, ev.lists); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}
	ev.mu.Unlock()

	// A delete from the watch is the hub's word too.
	gone := makeWork("shop.a", "wa", 1)
	gone.ResourceVersion = "11"
	fw.Delete(gone)
	select {
	case <-ev.goneCh:
	case <-time.After(10 * time.Second):
		t.Fatal("no gone event for a watch delete")
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if diff := cmp.Diff([]string{"shop.a"}, ev.gones); diff != "" {
		t.Errorf("gones (-want +got):\n%s", diff)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
