package worksync

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/workload"
)

// FieldManager is the server-side apply field manager of the agent's
// writes, to its cluster and to the status of its Works on the hub.
const FieldManager = "flotilla-agent"

// localRequestTimeout bounds each request to the local cluster.
const localRequestTimeout = 30 * time.Second

// cacheSyncTimeout bounds the wait for a kind's first list.
const cacheSyncTimeout = 20 * time.Second

// cluster is the local cluster as the sync sees it. The engine's is a
// dynamic client with informers; the unit tests use a map.
type cluster interface {
	// start runs the cluster's informers until ctx ends.
	start(ctx context.Context)
	// get returns the object ref names, or nil when there is none.
	get(ctx context.Context, ref objectRef) (*unstructured.Unstructured, error)
	// cached returns the object from the informers of Flotilla's objects
	// only, without asking the cluster; nil when it is not there.
	cached(ref objectRef) *unstructured.Unstructured
	// apply server-side applies obj, creating its namespace first if
	// needed, and returns the object as stored.
	apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// delete deletes the object ref names if its UID is still uid.
	delete(ctx context.Context, ref objectRef, uid types.UID) error
}

// localCluster is the agent's cluster: a dynamic client, a REST mapper,
// and an informer per kind on the objects labelled
// app.kubernetes.io/managed-by=flotilla, which report drift.
type localCluster struct {
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	onEvent func(obj, old *unstructured.Unstructured, deleted bool)

	ctx        context.Context
	mu         sync.Mutex
	informers  map[schema.GroupVersionResource]cache.SharedIndexInformer
	namespaces sync.Map
}

func newLocalCluster(cfg *rest.Config) (*localCluster, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "flotilla-agent/worksync"
	// Watches carry no deadline; requests carry their own.
	cfg.Timeout = 0
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return &localCluster{dynamic: dyn, mapper: mapper, informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}}, nil
}

// start sets the context the informers run in.
func (c *localCluster) start(ctx context.Context) { c.ctx = ctx }

func (c *localCluster) mapping(ref objectRef) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(ref.gvk().GroupKind(), ref.gvk().Version)
	if err != nil {
		return nil, fmt.Errorf("%s is not served by the cluster: %w", ref.gvk(), err)
	}
	return m, nil
}

func (c *localCluster) resource(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(ns)
	}
	return c.dynamic.Resource(m.Resource)
}

// informer returns the synced informer of Flotilla's objects of a kind,
// starting it the first time.
func (c *localCluster) informer(ctx context.Context, gvr schema.GroupVersionResource) (cache.SharedIndexInformer, error) {
	c.mu.Lock()
	inf, ok := c.informers[gvr]
	if !ok {
		inf = dynamicinformer.NewFilteredDynamicInformer(c.dynamic, gvr, metav1.NamespaceAll, 0, cache.Indexers{
			cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
		}, func(o *metav1.ListOptions) {
			o.LabelSelector = clusterv1alpha1.LabelManagedBy + "=" + clusterv1alpha1.ManagedByValue
		}).Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc: func(o any, initial bool) {
				if u, ok := o.(*unstructured.Unstructured); ok && !initial && c.onEvent != nil {
					c.onEvent(u, nil, false)
				}
			},
			UpdateFunc: func(old, o any) {
				u, ok1 := o.(*unstructured.Unstructured)
				ou, ok2 := old.(*unstructured.Unstructured)
				if ok1 && ok2 && c.onEvent != nil {
					c.onEvent(u, ou, false)
				}
			},
			DeleteFunc: func(o any) {
				if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = d.Obj
				}
				if u, ok := o.(*unstructured.Unstructured); ok && c.onEvent != nil {
					c.onEvent(u, nil, true)
				}
			},
		})
		c.informers[gvr] = inf
		go inf.RunWithContext(c.ctx)
	}
	c.mu.Unlock()
	if inf.HasSynced() {
		return inf, nil
	}
	wctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("the cluster's %s could not be listed within %s", gvr.Resource, cacheSyncTimeout)
	}
	return inf, nil
}

func (c *localCluster) cached(ref objectRef) *unstructured.Unstructured {
	m, err := c.mapper.RESTMapping(ref.gvk().GroupKind(), ref.gvk().Version)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	inf := c.informers[m.Resource]
	c.mu.Unlock()
	if inf == nil {
		return nil
	}
	return fromIndexer(inf, ref)
}

func fromIndexer(inf cache.SharedIndexInformer, ref objectRef) *unstructured.Unstructured {
	key := ref.Name
	if ref.Namespace != "" {
		key = ref.Namespace + "/" + ref.Name
	}
	o, ok, _ := inf.GetIndexer().GetByKey(key)
	if !ok {
		return nil
	}
	u, _ := o.(*unstructured.Unstructured)
	return u
}

func (c *localCluster) get(ctx context.Context, ref objectRef) (*unstructured.Unstructured, error) {
	m, err := c.mapping(ref)
	if err != nil {
		return nil, err
	}
	inf, err := c.informer(ctx, m.Resource)
	if err != nil {
		return nil, err
	}
	if u := fromIndexer(inf, ref); u != nil {
		return u, nil
	}
	// Not among Flotilla's objects: absent, or someone else's.
	ctx, cancel := context.WithTimeout(ctx, localRequestTimeout)
	defer cancel()
	u, err := c.resource(m, ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	return u, nil
}

func (c *localCluster) apply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := refOf(obj)
	m, err := c.mapping(ref)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, fmt.Errorf("%s is namespaced but its manifest has no namespace", ref)
		}
		if err := c.ensureNamespace(ctx, ref.Namespace); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, localRequestTimeout)
	defer cancel()
	ri := c.resource(m, ref.Namespace)
	out, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil && apierrors.IsNotFound(err) && ref.Namespace != "" {
		// The namespace went away.
		c.namespaces.Delete(ref.Namespace)
		if nerr := c.ensureNamespace(ctx, ref.Namespace); nerr == nil {
			out, err = ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		}
	}
	return out, err
}

func (c *localCluster) ensureNamespace(ctx context.Context, ns string) error {
	if _, ok := c.namespaces.Load(ns); ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, localRequestTimeout)
	defer cancel()
	_, err := workload.CreateNamespace(ctx, c.dynamic, ns, FieldManager)
	if err != nil {
		return fmt.Errorf("ensure namespace %s: %w", ns, err)
	}
	c.namespaces.Store(ns, true)
	return nil
}

func (c *localCluster) delete(ctx context.Context, ref objectRef, uid types.UID) error {
	m, err := c.mapping(ref)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, localRequestTimeout)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	err = c.resource(m, ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		// Replaced by someone else's object since: not ours to delete.
		return nil
	}
	return fmt.Errorf("delete %s: %w", ref, err)
}

var _ cluster = &localCluster{}
