package worksync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// objBuilder builds manifests as the hub renders them.
type objBuilder struct{ u *unstructured.Unstructured }

func makeConfigMap(ns, name string) *objBuilder {
	u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"k": "v"}}}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue})
	return &objBuilder{u: u}
}

func (b *objBuilder) binding(uid string) *objBuilder {
	l := b.u.GetLabels()
	l[workv1alpha1.LabelBindingUID] = uid
	b.u.SetLabels(l)
	return b
}

func (b *objBuilder) dependency() *objBuilder {
	l := b.u.GetLabels()
	l[workv1alpha1.LabelDependency] = "true"
	b.u.SetLabels(l)
	return b
}

func (b *objBuilder) data(v string) *objBuilder {
	b.u.Object["data"] = map[string]any{"k": v}
	return b
}

func (b *objBuilder) unmanaged() *objBuilder {
	b.u.SetLabels(map[string]string{"owner": "someone-else"})
	return b
}

// obj returns the manifest with its hash annotation.
func (b *objBuilder) obj() *unstructured.Unstructured {
	u := b.u.DeepCopy()
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	delete(ann, workv1alpha1.AnnotationManifestHash)
	u.SetAnnotations(ann)
	j, _ := json.Marshal(u.Object)
	sum := sha256.Sum256(j)
	ann[workv1alpha1.AnnotationManifestHash] = hex.EncodeToString(sum[:8])
	u.SetAnnotations(ann)
	return u
}

// makeWork returns a Work holding manifests.
func makeWork(name, uid string, gen int64, manifests ...*unstructured.Unstructured) *workv1alpha1.Work {
	w := &workv1alpha1.Work{}
	w.Name, w.Namespace, w.UID, w.Generation = name, "flotilla-cluster-test", types.UID(uid), gen
	w.ResourceVersion = fmt.Sprint(gen)
	for _, m := range manifests {
		b, _ := json.Marshal(m.Object)
		w.Spec.Manifests = append(w.Spec.Manifests, runtime.RawExtension{Raw: b})
	}
	w.Spec.ConflictResolution = policyv1alpha1.ConflictAbort
	return w
}

// fakeCluster is a cluster in memory: apply replaces an object (keeping
// its UID), delete honours the UID precondition.
type fakeCluster struct {
	mu       sync.Mutex
	objs     map[string]*unstructured.Unstructured
	applies  []string
	deletes  []string
	failNext error
	uids     int
}

func newFakeCluster(objs ...*unstructured.Unstructured) *fakeCluster {
	c := &fakeCluster{objs: map[string]*unstructured.Unstructured{}}
	for _, o := range objs {
		c.put(o.DeepCopy())
	}
	return c
}

func (c *fakeCluster) put(o *unstructured.Unstructured) {
	if o.GetUID() == "" {
		c.uids++
		o.SetUID(types.UID(fmt.Sprintf("uid-%d", c.uids)))
	}
	c.objs[refOf(o).key()] = o
}

func (c *fakeCluster) start(context.Context) {}

func (c *fakeCluster) get(_ context.Context, ref objectRef) (*unstructured.Unstructured, error) {
	return c.cached(ref), nil
}

func (c *fakeCluster) cached(ref objectRef) *unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.objs[ref.key()]; ok {
		return o.DeepCopy()
	}
	return nil
}

func (c *fakeCluster) apply(_ context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.failNext; err != nil {
		c.failNext = nil
		return nil, err
	}
	n := obj.DeepCopy()
	if old, ok := c.objs[refOf(obj).key()]; ok {
		n.SetUID(old.GetUID())
	}
	c.put(n)
	c.applies = append(c.applies, refOf(obj).String())
	return n.DeepCopy(), nil
}

func (c *fakeCluster) delete(_ context.Context, ref objectRef, uid types.UID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[ref.key()]
	if !ok || o.GetUID() != uid {
		return nil
	}
	delete(c.objs, ref.key())
	c.deletes = append(c.deletes, ref.String())
	return nil
}

// has reports whether the cluster holds an object.
func (c *fakeCluster) has(kind, ns, name string) bool {
	return c.cached(objectRef{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}) != nil
}

// remove deletes an object as a user would.
func (c *fakeCluster) remove(kind, ns, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.objs, objectRef{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}.key())
}

func (c *fakeCluster) takeDeletes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.deletes
	c.deletes = nil
	return d
}

var _ cluster = &fakeCluster{}

// testEngine is an engine on a fake cluster with no hub: the tests call
// its hub event handlers and its sync directly.
func testEngine(t *testing.T, dir string, c cluster) *Engine {
	t.Helper()
	o := Options{Cluster: "test", StateDir: dir}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	e := newEngine(o, nil, nil, c)
	if err := e.resume(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.queue.ShutDown()
		e.statusQueue.ShutDown()
		_ = e.store.close()
	})
	return e
}
