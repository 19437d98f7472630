package propagation

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

// indexBindingUID indexes member objects by the binding that put them there.
const indexBindingUID = "bindingUID"

// memberClient is the pipeline's connection to one member: a dynamic
// client, and informers on the objects Flotilla manages there.
type memberClient struct {
	name      string
	key       string
	dynamic   dynamic.Interface
	informers *informerSet
	stop      chan struct{}
	// namespaces the pipeline knows exist in the member.
	namespaces sync.Map
}

// members holds a memberClient per cluster, rebuilt when the cluster's
// endpoint or credentials change.
type members struct {
	mu sync.Mutex
	m  map[string]*memberClient
	// onEvent hears of a change to a member object: old is nil for a new
	// object or one that is gone, and gone tells which.
	onEvent func(cluster string, obj, old *unstructured.Unstructured, gone bool)
	// onSynced runs when one of a member's informers has listed.
	onSynced func()
	qps      float32
	burst    int
}

func newMembers(qps float32, burst int, onEvent func(string, *unstructured.Unstructured, *unstructured.Unstructured, bool)) *members {
	return &members{m: map[string]*memberClient{}, onEvent: onEvent, qps: qps, burst: burst}
}

// get returns the client of cluster c, reading its credentials through r.
func (ms *members) get(ctx context.Context, r client.Reader, c *clusterv1alpha1.Cluster) (*memberClient, error) {
	if c.Spec.SecretRef == nil {
		return nil, fmt.Errorf("cluster %s has no spec.secretRef", c.Name)
	}
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}, &s); err != nil {
		return nil, fmt.Errorf("read credentials of cluster %s: %w", c.Name, err)
	}
	key := c.Spec.APIEndpoint + "/" + s.ResourceVersion
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if mc, ok := ms.m[c.Name]; ok {
		if mc.key == key {
			return mc, nil
		}
		close(mc.stop)
		delete(ms.m, c.Name)
	}
	cfg, err := member.RESTConfig(c, &s)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "flotilla-hub-execution/" + c.Name
	cfg.QPS, cfg.Burst = ms.qps, ms.burst
	// The client-wide timeout would cut every watch; requests carry their
	// own deadlines instead.
	cfg.Timeout = 0
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mc := &memberClient{name: c.Name, key: key, dynamic: dyn, stop: make(chan struct{})}
	name := c.Name
	mc.informers = newInformerSet(dyn, mc.stop,
		func(o *metav1.ListOptions) {
			o.LabelSelector = clusterv1alpha1.LabelManagedBy + "=" + clusterv1alpha1.ManagedByValue
		},
		cache.Indexers{indexBindingUID: func(o any) ([]string, error) {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				return nil, nil
			}
			if v := u.GetLabels()[workv1alpha1.LabelBindingUID]; v != "" {
				return []string{v}, nil
			}
			return nil, nil
		}},
		func(_ Mapping, obj, old *unstructured.Unstructured, gone bool) { ms.onEvent(name, obj, old, gone) })
	mc.informers.onSynced = ms.onSynced
	mc.informers.transform = stripManagedFieldsButCreate
	ms.m[c.Name] = mc
	return mc, nil
}

// peek returns the client of a cluster if one exists.
func (ms *members) peek(name string) *memberClient {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.m[name]
}

// names lists the clusters with a client.
func (ms *members) all() []*memberClient {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := make([]*memberClient, 0, len(ms.m))
	for _, mc := range ms.m {
		out = append(out, mc)
	}
	return out
}

// forget stops the client of a cluster that left.
func (ms *members) forget(name string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if mc, ok := ms.m[name]; ok {
		close(mc.stop)
		delete(ms.m, name)
	}
}

// owned returns the objects of gvr in the member that the binding with uid
// put there, from the cache.
func (mc *memberClient) owned(gvr schema.GroupVersionResource, uid string) []*unstructured.Unstructured {
	inf := mc.informers.peek(gvr)
	if inf == nil {
		return nil
	}
	objs, _ := inf.GetIndexer().ByIndex(indexBindingUID, uid)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*unstructured.Unstructured))
	}
	return out
}
