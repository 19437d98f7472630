package worksync

import (
	"context"
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// hubListTimeout bounds a list of the Works on the hub.
const hubListTimeout = 60 * time.Second

// hubEvents is what the hub watcher tells the engine. Every call is a fact
// the hub stated: an upsert or a delete from a watch, or a complete list.
type hubEvents interface {
	upsert(w *workv1alpha1.Work)
	gone(name string, uid string)
	// listed follows a successful list: every Work of the namespace.
	listed(ws []*workv1alpha1.Work)
}

// hubStore is the reflector's store: it keeps the Works as any store does
// and turns what the reflector writes into engine events.
type hubStore struct {
	cache.Store
	events hubEvents
}

func newHubStore(events hubEvents) *hubStore {
	return &hubStore{Store: cache.NewStore(cache.MetaNamespaceKeyFunc), events: events}
}

func (s *hubStore) Add(obj any) error {
	if err := s.Store.Add(obj); err != nil {
		return err
	}
	if w, ok := obj.(*workv1alpha1.Work); ok {
		s.events.upsert(w)
	}
	return nil
}

func (s *hubStore) Update(obj any) error { return s.Add(obj) }

func (s *hubStore) Delete(obj any) error {
	if err := s.Store.Delete(obj); err != nil {
		return err
	}
	if w, ok := obj.(*workv1alpha1.Work); ok {
		s.events.gone(w.Name, string(w.UID))
	}
	return nil
}

// Replace follows a list (or the initial events of a watch list) that
// succeeded: what it lacks is gone from the hub.
func (s *hubStore) Replace(items []any, rv string) error {
	if err := s.Store.Replace(items, rv); err != nil {
		return err
	}
	ws := make([]*workv1alpha1.Work, 0, len(items))
	for _, o := range items {
		if w, ok := o.(*workv1alpha1.Work); ok {
			ws = append(ws, w)
		}
	}
	s.events.listed(ws)
	return nil
}

// Resync is a no-op: the engine resyncs from its own records.
func (s *hubStore) Resync() error { return nil }

// hubReflector lists and watches the Works of the engine's namespace on the
// hub, with a backoff capped at Options.HubBackoffMax so that the agent
// notices a hub that is back within that time, however long it was away.
// Every request's result feeds the engine's view of the connection.
func (e *Engine) hubReflector() *cache.Reflector {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := context.WithTimeout(ctx, hubListTimeout)
			defer cancel()
			if opts.ResourceVersion == "0" {
				// "Any version" may come from a lagging API server's cache,
				// which could lack a Work this agent already saw, and a
				// list is taken as the hub's word on what is gone: read
				// the current state instead.
				opts.ResourceVersion = ""
			}
			list := &workv1alpha1.WorkList{}
			err := e.hub.Get().Namespace(e.o.Namespace).Resource("works").
				VersionedParams(&opts, e.params).Do(ctx).Into(list)
			e.observeHub(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			w, err := e.hub.Get().Namespace(e.o.Namespace).Resource("works").
				VersionedParams(&opts, e.params).Watch(ctx)
			e.observeHub(err)
			return w, err
		},
	}
	// With the jitter, the longest wait is HubBackoffMax.
	const jitter = 0.2
	backoff := &wait.Backoff{
		Duration: 500 * time.Millisecond,
		Factor:   2,
		Jitter:   jitter,
		Steps:    100,
		Cap:      time.Duration(float64(e.o.HubBackoffMax) / (1 + jitter)),
	}
	return cache.NewReflectorWithOptions(lw, &workv1alpha1.Work{}, newHubStore(e), cache.ReflectorOptions{
		Name:    "works@hub",
		Backoff: backoff,
	})
}

// observeHub records the outcome of a request to the hub.
func (e *Engine) observeHub(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	e.setConnected(err == nil, err)
}
