package member

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// Watcher keeps informers on one member's nodes and non-terminal pods and
// sums them on demand. Objects are trimmed to the fields the sums need, so a
// large member costs little memory on the hub.
type Watcher struct {
	nodes  cache.SharedIndexInformer
	pods   cache.SharedIndexInformer
	cancel context.CancelFunc
}

// NewWatcher starts informers against a member. Stop must be called when the
// member leaves. Nodes and pods are read as protobuf, as the member's own
// controllers read them: the member's API server encodes each pod change
// once for all its watchers, and decoding it here costs a fraction of JSON.
func NewWatcher(cfg *rest.Config, resync time.Duration) (*Watcher, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(cs, resync,
		informers.WithTransform(trimNode))
	podFactory := informers.NewSharedInformerFactoryWithOptions(cs, resync,
		informers.WithTransform(trimPod),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.AndSelectors(
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
				fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)),
			).String()
		}))
	w := &Watcher{
		nodes: nodeFactory.Core().V1().Nodes().Informer(),
		pods:  podFactory.Core().V1().Pods().Informer(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	nodeFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	return w, nil
}

// Stop stops the informers.
func (w *Watcher) Stop() { w.cancel() }

// WaitSynced waits until both informers have listed the member once, or
// ctx ends, and reports whether they have.
func (w *Watcher) WaitSynced(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), w.nodes.HasSynced, w.pods.HasSynced)
}

func trimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, ResourceVersion: n.ResourceVersion},
		Spec:       corev1.NodeSpec{Unschedulable: n.Spec.Unschedulable},
		Status: corev1.NodeStatus{
			Allocatable: n.Status.Allocatable,
			Conditions:  readyOnly(n.Status.Conditions),
		},
	}, nil
}

func readyOnly(cs []corev1.NodeCondition) []corev1.NodeCondition {
	for _, c := range cs {
		if c.Type == corev1.NodeReady {
			return []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return nil
}

func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, ResourceVersion: p.ResourceVersion},
		Spec: corev1.PodSpec{
			NodeName:       p.Spec.NodeName,
			Containers:     trimContainers(p.Spec.Containers),
			InitContainers: trimContainers(p.Spec.InitContainers),
			Overhead:       p.Spec.Overhead,
		},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Resources: corev1.ResourceRequirements{Requests: c.Resources.Requests}, RestartPolicy: c.RestartPolicy}
	}
	return out
}

// Summary sums the member's nodes and pods as the informers see them now.
func (w *Watcher) Summary() (clusterv1alpha1.NodeSummary, clusterv1alpha1.ResourceSummary) {
	return Summarize(w.nodes.GetStore().List(), w.pods.GetStore().List())
}

// Summarize sums nodes and pods. Only ready, schedulable nodes contribute
// allocatable capacity; pods count as requested when bound to a node and as
// allocating while pending.
func Summarize(nodes, pods []any) (clusterv1alpha1.NodeSummary, clusterv1alpha1.ResourceSummary) {
	var ns clusterv1alpha1.NodeSummary
	rs := clusterv1alpha1.ResourceSummary{
		Allocatable: corev1.ResourceList{}, Requested: corev1.ResourceList{}, Allocating: corev1.ResourceList{},
	}
	for _, o := range nodes {
		n := o.(*corev1.Node)
		ns.Total++
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			continue
		}
		ns.Ready++
		if n.Spec.Unschedulable {
			continue
		}
		addTo(rs.Allocatable, n.Status.Allocatable)
	}
	for _, o := range pods {
		p := o.(*corev1.Pod)
		req := PodRequests(p)
		req[corev1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
		if p.Spec.NodeName != "" {
			addTo(rs.Requested, req)
		} else {
			addTo(rs.Allocating, req)
		}
	}
	return ns, rs
}

// PodRequests is what a pod asks of a node: the larger of the sum of its
// app containers (and restartable init containers) and its largest init
// container, plus overhead.
func PodRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		addTo(sum, c.Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addTo(sum, c.Resources.Requests)
			addTo(sidecars, c.Resources.Requests)
			continue
		}
		// A plain init container runs alone beside the sidecars started
		// before it.
		need := corev1.ResourceList{}
		addTo(need, sidecars)
		addTo(need, c.Resources.Requests)
		for k, v := range need {
			if cur, ok := sum[k]; !ok || v.Cmp(cur) > 0 {
				sum[k] = v.DeepCopy()
			}
		}
	}
	addTo(sum, p.Spec.Overhead)
	return sum
}

func addTo(dst, src corev1.ResourceList) {
	for k, v := range src {
		if cur, ok := dst[k]; ok {
			cur.Add(v)
			dst[k] = cur
		} else {
			dst[k] = v.DeepCopy()
		}
	}
}

// Watchers is a set of Watchers keyed by cluster, safe for concurrent use.
type Watchers struct {
	mu sync.Mutex
	m  map[string]watcherEntry
}

type watcherEntry struct {
	key string
	w   *Watcher
}

// Get returns the watcher for cluster, starting one when there is none or
// when key (which identifies the endpoint and credentials) changed.
func (ws *Watchers) Get(cluster, key string, cfg *rest.Config, resync time.Duration) (*Watcher, error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.m == nil {
		ws.m = map[string]watcherEntry{}
	}
	if e, ok := ws.m[cluster]; ok {
		if e.key == key {
			return e.w, nil
		}
		e.w.Stop()
		delete(ws.m, cluster)
	}
	w, err := NewWatcher(cfg, resync)
	if err != nil {
		return nil, err
	}
	ws.m[cluster] = watcherEntry{key: key, w: w}
	return w, nil
}

// Forget stops and drops the watcher of a cluster that left.
func (ws *Watchers) Forget(cluster string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if e, ok := ws.m[cluster]; ok {
		e.w.Stop()
		delete(ws.m, cluster)
	}
}
