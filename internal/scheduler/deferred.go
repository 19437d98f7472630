package scheduler

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/event"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// deferredKey names a binding whose record waits: a ResourceBinding when
// namespaced, a ClusterResourceBinding otherwise.
type deferredKey struct {
	namespaced bool
	key        types.NamespacedName
}

// deferredRecords holds the bindings whose Scheduled condition waits for
// the hub to be less busy (WithDeferStatus). A parked binding costs nothing
// until release gives it back to its controller: every parked binding once
// the hub is not busy, or each whose wait is over. Before, each was decided
// again every 10 s while it waited: six decisions per binding of a burst,
// none of them written.
type deferredRecords struct {
	mu     sync.Mutex
	parked map[deferredKey]time.Time
	// released carries the bindings given back, one channel per kind
	// (ResourceBinding, ClusterResourceBinding), to the controllers'
	// channel sources.
	released [2]chan event.GenericEvent
}

func newDeferredRecords() *deferredRecords {
	return &deferredRecords{parked: map[deferredKey]time.Time{},
		released: [2]chan event.GenericEvent{make(chan event.GenericEvent, 1024), make(chan event.GenericEvent, 1024)}}
}

// channel is the release channel of the bindings of one kind.
func (d *deferredRecords) channel(namespaced bool) chan event.GenericEvent {
	if namespaced {
		return d.released[0]
	}
	return d.released[1]
}

// park holds k until the hub is not busy, or until deadline.
func (d *deferredRecords) park(k deferredKey, deadline time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.parked[k] = deadline
}

// forget drops k: its controller looks at it now.
func (d *deferredRecords) forget(k deferredKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.parked, k)
}

// due takes out the bindings to give back: all when the hub is not busy,
// else those whose deadline passed.
func (d *deferredRecords) due(busy bool, now time.Time) []deferredKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []deferredKey
	for k, deadline := range d.parked {
		if !busy || !now.Before(deadline) {
			out = append(out, k)
			delete(d.parked, k)
		}
	}
	return out
}

func (d *deferredRecords) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.parked)
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

// releaseDeferred sends the bindings that are due back to their
// controllers.
func (r *Reconciler) releaseDeferred(ctx context.Context) {
	defer func() { metrics.ReportsHeld.WithLabelValues("scheduled").Set(float64(r.deferred.len())) }()
	for _, k := range r.deferred.due(r.deferStatus(), r.clock.Now()) {
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
