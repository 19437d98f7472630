package scheduler

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hold"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// deferredKey names a binding whose record waits: a ResourceBinding when
// namespaced, a ClusterResourceBinding otherwise.
type deferredKey struct {
	namespaced bool
	key        types.NamespacedName
}

// deferredRecords holds the bindings whose Scheduled condition waits for
// the hub to be less busy (WithDeferStatus), parked in a hold.Reports as
// the propagation pipeline parks its reports: a parked binding costs
// nothing until the releaser gives it back to its controller, through one
// channel per kind (ResourceBinding, ClusterResourceBinding) that the
// controllers watch. A binding given back writes its record on its next
// reconcile, busy or not.
type deferredRecords struct {
	held     *hold.Reports[deferredKey]
	released [2]chan event.GenericEvent
}

func newDeferredRecords() *deferredRecords {
	return &deferredRecords{held: hold.New[deferredKey](),
		released: [2]chan event.GenericEvent{make(chan event.GenericEvent, 1024), make(chan event.GenericEvent, 1024)}}
}

// channel is the release channel of the bindings of one kind.
func (d *deferredRecords) channel(namespaced bool) chan event.GenericEvent {
	if namespaced {
		return d.released[0]
	}
	return d.released[1]
}

// releaser gives parked bindings back to the scheduler's controllers once
// a second. It runs on the leader only, as the controllers do.
type releaser struct{ r *Reconciler }

// NeedLeaderElection makes the releaser run on the leader only.
func (releaser) NeedLeaderElection() bool { return true }

// Start releases until ctx ends.
func (rl releaser) Start(ctx context.Context) error {
	wait.UntilWithContext(ctx, rl.r.releaseDeferred, time.Second)
	return nil
}

// releaseDeferred sends the bindings that are due (all once the hub is not
// busy, else those parked for hold.MaxDefer) back to their controllers.
func (r *Reconciler) releaseDeferred(ctx context.Context) {
	defer func() { metrics.ReportsHeld.WithLabelValues("scheduled").Set(float64(r.deferred.held.Len())) }()
	for _, k := range r.deferred.held.Release(r.deferStatus(), r.clock.Now()) {
		b := workv1alpha1.NewBinding(k.namespaced)
		b.SetNamespace(k.key.Namespace)
		b.SetName(k.key.Name)
		select {
		case r.deferred.channel(k.namespaced) <- event.GenericEvent{Object: b}:
		case <-ctx.Done():
			return
		}
	}
}

// firstRecordDelay is how long the scheduler waits before it looks at a
// binding the detector created already placed: its only work there is the
// Scheduled record, which is for the user to see, while execution is
// sending the member creates the user waits for. Written at once, the
// record's hub write ran beside those creates, and on a small hub both took
// 100-170 ms. (An event of the binding in the meantime brings it sooner.)
const firstRecordDelay = 250 * time.Millisecond

// bindingEvents queues bindings as handler.EnqueueRequestForObject does
// (the initial list at low priority), except that, when records may be
// deferred (WithDeferStatus), a binding the detector created already placed
// is queued firstRecordDelay later.
type bindingEvents struct {
	handler.EnqueueRequestForObject
	delay bool
}

// Create queues a new binding.
func (h *bindingEvents) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if b, ok := e.Object.(workv1alpha1.Binding); ok && h.delay && !e.IsInInitialList && len(b.GetSpec().Clusters) > 0 &&
		e.Object.GetLabels()[clusterv1alpha1.LabelManagedBy] == clusterv1alpha1.ManagedByValue {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}, firstRecordDelay)
		return
	}
	h.EnqueueRequestForObject.Create(ctx, e, q)
}
