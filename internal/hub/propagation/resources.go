package propagation

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
)

// Mapping is what the pipeline needs to know of a kind.
type Mapping struct {
	GVK        schema.GroupVersionKind
	GVR        schema.GroupVersionResource
	Namespaced bool
}

// mapper resolves kinds through discovery, and forgets what it learned when
// a kind is missing, so that CRDs installed later resolve.
type mapper struct {
	mu     sync.Mutex
	cached discovery.CachedDiscoveryInterface
	rm     *restmapper.DeferredDiscoveryRESTMapper
	last   time.Time
}

func newMapper(d discovery.DiscoveryInterface) *mapper {
	c := memory.NewMemCacheClient(d)
	return &mapper{cached: c, rm: restmapper.NewDeferredDiscoveryRESTMapper(c)}
}

// Map resolves gvk. A kind the server does not serve yet gives an error
// that meta.IsNoMatchError recognises.
func (m *mapper) Map(gvk schema.GroupVersionKind) (Mapping, error) {
	rm, err := m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		m.mu.Lock()
		// Rediscover at most once a second, however many lookups miss.
		if time.Since(m.last) > time.Second {
			m.rm.Reset()
			m.last = time.Now()
		}
		m.mu.Unlock()
		rm, err = m.rm.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return Mapping{}, err
	}
	return Mapping{GVK: gvk, GVR: rm.Resource, Namespaced: rm.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

// informerSet starts dynamic informers on demand, one per resource.
type informerSet struct {
	mu        sync.Mutex
	started   map[schema.GroupVersionResource]time.Time
	lastErr   map[schema.GroupVersionResource]error
	factory   dynamicinformer.DynamicSharedInformerFactory
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	stop      <-chan struct{}
	// onEvent hears of every change: old is nil for a new object or one
	// that is gone, and gone tells which.
	onEvent  func(m Mapping, obj *unstructured.Unstructured, old *unstructured.Unstructured, gone bool)
	indexers cache.Indexers
	// onSynced, when set, runs once each informer has listed: work that
	// waited for the cache resumes then, without polling.
	onSynced func()
	// transform trims what the cache keeps of each object.
	transform cache.TransformFunc
}

func newInformerSet(dyn dynamic.Interface, stop <-chan struct{}, tweak dynamicinformer.TweakListOptionsFunc,
	indexers cache.Indexers, onEvent func(Mapping, *unstructured.Unstructured, *unstructured.Unstructured, bool)) *informerSet {
	return &informerSet{
		factory:   dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, tweak),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		started:   map[schema.GroupVersionResource]time.Time{},
		lastErr:   map[schema.GroupVersionResource]error{},
		stop:      stop,
		onEvent:   onEvent,
		indexers:  indexers,
		transform: stripManagedFields,
	}
}

// get returns the informer of m's resource, starting it on first use.
func (s *informerSet) get(m Mapping) (cache.SharedIndexInformer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inf, ok := s.informers[m.GVR]; ok {
		return inf, nil
	}
	inf := s.factory.ForResource(m.GVR).Informer()
	if err := inf.SetTransform(s.transform); err != nil {
		return nil, err
	}
	if len(s.indexers) > 0 {
		if err := inf.AddIndexers(s.indexers); err != nil {
			return nil, err
		}
	}
	if s.onEvent != nil {
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) {
				if u, ok := o.(*unstructured.Unstructured); ok {
					s.onEvent(m, u, nil, false)
				}
			},
			UpdateFunc: func(old, o any) {
				u, ok1 := o.(*unstructured.Unstructured)
				ou, ok2 := old.(*unstructured.Unstructured)
				if ok1 && ok2 {
					s.onEvent(m, u, ou, false)
				}
			},
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				if u, ok := o.(*unstructured.Unstructured); ok {
					s.onEvent(m, u, nil, true)
				}
			},
		})
		if err != nil {
			return nil, err
		}
	}
	gvr := m.GVR
	if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		s.mu.Lock()
		s.lastErr[gvr] = err
		s.mu.Unlock()
	}); err != nil {
		return nil, err
	}
	s.informers[m.GVR] = inf
	s.started[m.GVR] = time.Now()
	go inf.Run(s.stop)
	if s.onSynced != nil {
		go func() {
			if cache.WaitForCacheSync(s.stop, inf.HasSynced) {
				s.onSynced()
			}
		}()
	}
	return inf, nil
}

// syncGrace is how long an informer may take to list before the pipeline
// reports it as failing rather than as still starting.
const syncGrace = 20 * time.Second

// errNotSynced means the informer is still listing: look again shortly.
var errNotSynced = fmt.Errorf("cache not synced yet")

// synced returns nil once inf has listed, errNotSynced while it is
// starting, and the reason it cannot list after syncGrace.
func (s *informerSet) synced(m Mapping, inf cache.SharedIndexInformer) error {
	if inf.HasSynced() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.started[m.GVR]) < syncGrace {
		return errNotSynced
	}
	if err := s.lastErr[m.GVR]; err != nil {
		return fmt.Errorf("cannot list %s: %v", m.GVR.String(), err)
	}
	return fmt.Errorf("cannot list %s: no answer within %s", m.GVR.String(), syncGrace)
}

// peek returns the informer of gvr if it was started.
func (s *informerSet) peek(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.informers[gvr]
}

// all returns the started informers.
func (s *informerSet) all() map[schema.GroupVersionResource]cache.SharedIndexInformer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[schema.GroupVersionResource]cache.SharedIndexInformer, len(s.informers))
	for k, v := range s.informers {
		out[k] = v
	}
	return out
}

// stripManagedFields keeps managedFields out of the caches: the pipeline
// never reads them and they are often the larger half of an object.
func stripManagedFields(o any) (any, error) {
	if u, ok := o.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return o, nil
}

// stripManagedFieldsButCreate is stripManagedFields for member objects,
// except that it keeps a marker of Flotilla's own create (its entry without
// the field set), so that execution hands those fields to its apply entry
// before it applies the object again.
func stripManagedFieldsButCreate(o any) (any, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return o, nil
	}
	md, _ := u.Object["metadata"].(map[string]any)
	entries, _ := md["managedFields"].([]any)
	var keep []any
	for _, e := range entries {
		if f, ok := e.(map[string]any); ok && createEntry(f) {
			// A marker only: the field set, as big as the object, is read
			// from the member when it is upgraded.
			keep = append(keep, map[string]any{"manager": FieldManager, "operation": string(metav1.ManagedFieldsOperationUpdate)})
		}
	}
	if len(keep) == 0 {
		delete(md, "managedFields")
	} else {
		md["managedFields"] = keep
	}
	return o, nil
}

// objectFrom returns the cached object at key, or nil.
func objectFrom(inf cache.SharedIndexInformer, namespace, name string) (*unstructured.Unstructured, error) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	o, ok, err := inf.GetIndexer().GetByKey(key)
	if err != nil || !ok {
		return nil, err
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected %T in cache", o)
	}
	return u, nil
}
