package propagation

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hold"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// templateKey names one template on the hub.
type templateKey struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// policiesKey is the queue item that re-reads every policy; kindsKey only
// looks again for selected kinds the hub did not serve yet.
var (
	policiesKey = templateKey{Name: "\x00policies"}
	kindsKey    = templateKey{Name: "\x00kinds"}
)

// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=policy.flotilla.io,resources=propagationpolicies;clusterpropagationpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=work.flotilla.io,resources=resourcebindings;clusterresourcebindings,verbs=get;list;watch;create;update;patch;delete

// Detector claims templates for policies and keeps one binding per claimed
// template.
type Detector struct {
	p *Pipeline
	// queue serves templates to claim and bind before first claims put
	// off while it was busy (claimPriority).
	queue priorityqueue.PriorityQueue[templateKey]

	// selected holds the kinds some policy selects; the hub also watches
	// dependency kinds, whose events are not the detector's business.
	mu       sync.RWMutex
	selected map[schema.GroupVersionKind]bool

	// claims holds back first claims while the pipeline is busy.
	claims *hold.Reports[templateKey]
	// arrivals counts new templates of the selected kinds.
	arrivals arrivals
	// pending holds the templates queued at the first priority and not
	// looked at since.
	pending *pendingSet[templateKey]
	// created holds the bindings this detector created that its cache may
	// not hold yet (recentBindings).
	created recentBindings
}

// createdGrace is how long a binding the detector created counts as on its
// way to the cache: a sync in that time that finds no binding there looks
// again later instead of creating it a second time (a 409).
const createdGrace = 10 * time.Second

// recentBindings are the bindings the detector created in the last
// createdGrace, until its cache holds them, as a ReplicaSet controller's
// expectations: a template synced again before the binding's watch event
// arrived (a claim let out, an edit) would otherwise create it again.
type recentBindings struct {
	mu sync.Mutex
	at map[types.NamespacedName]time.Time
}

// add records that the binding key was created now. Once in a while it
// drops the entries older than createdGrace, which a template never synced
// again leaves behind.
func (r *recentBindings) add(key types.NamespacedName, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[types.NamespacedName]time.Time{}
	}
	if len(r.at) >= 1024 && len(r.at)%1024 == 0 {
		for k, t := range r.at {
			if now.Sub(t) >= createdGrace {
				delete(r.at, k)
			}
		}
	}
	r.at[key] = now
}

// inFlight reports whether key was created less than createdGrace ago and
// is not known to be in the cache yet.
func (r *recentBindings) inFlight(key types.NamespacedName, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[key]
	if ok && now.Sub(t) >= createdGrace {
		delete(r.at, key)
		return false
	}
	return ok
}

// seen forgets key: the cache holds the binding, or it is gone.
func (r *recentBindings) seen(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, key)
}

// add queues template k at the first priority.
func (d *Detector) add(k templateKey) {
	d.pending.add(k)
	d.queue.Add(k)
}

func newDetector(p *Pipeline) *Detector {
	return &Detector{
		p:       p,
		claims:  hold.New[templateKey](),
		pending: newPendingSet[templateKey](),
		queue: priorityqueue.New("detector", func(o *priorityqueue.Opts[templateKey]) {
			o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[templateKey]()
		}),
	}
}

// watchPolicies re-reads the policies whenever one changes.
func (d *Detector) watchPolicies(ctx context.Context) error {
	for _, obj := range []client.Object{&policyv1alpha1.PropagationPolicy{}, &policyv1alpha1.ClusterPropagationPolicy{}} {
		inf, err := d.p.cache.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		h := func(any) { d.queue.Add(policiesKey) }
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: h, DeleteFunc: h,
			UpdateFunc: func(old, o any) {
				if old.(client.Object).GetGeneration() != o.(client.Object).GetGeneration() {
					d.queue.Add(policiesKey)
				}
			},
		}); err != nil {
			return err
		}
	}
	// A binding deleted while its template stays (by hand, or by garbage
	// collection after the template was replaced) is made again. A binding
	// the cache now holds is no longer on its way (recentBindings).
	for _, obj := range []client.Object{&workv1alpha1.ResourceBinding{}, &workv1alpha1.ClusterResourceBinding{}} {
		inf, err := d.p.cache.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) {
				if b, ok := o.(client.Object); ok {
					d.created.seen(types.NamespacedName{Namespace: b.GetNamespace(), Name: b.GetName()})
				}
			},
			DeleteFunc: func(o any) {
				if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				if b, ok := o.(workv1alpha1.Binding); ok {
					d.created.seen(types.NamespacedName{Namespace: b.GetNamespace(), Name: b.GetName()})
					r := b.GetSpec().Resource
					gv, err := schema.ParseGroupVersion(r.APIVersion)
					if err == nil {
						d.add(templateKey{GVK: gv.WithKind(r.Kind), Namespace: r.Namespace, Name: r.Name})
					}
				}
			},
		}); err != nil {
			return err
		}
	}
	return nil
}

// onTemplate is the handler of every hub template informer.
func (d *Detector) onTemplate(m Mapping, obj, old *unstructured.Unstructured, gone bool) {
	if old != nil && !templateChanged(old, obj) {
		return
	}
	d.mu.RLock()
	selected := d.selected[m.GVK]
	d.mu.RUnlock()
	if !selected && obj.GetAnnotations()[workv1alpha1.AnnotationPolicy] == "" {
		return
	}
	if old == nil && !gone {
		d.arrivals.add(time.Now())
	}
	d.add(templateKey{GVK: m.GVK, Namespace: obj.GetNamespace(), Name: obj.GetName()})
}

// templateChanged ignores updates that only touch status, or only set the
// claim annotation: what Flotilla itself writes back must not loop through
// the pipeline. (A claim removed or edited by someone else does count.)
func templateChanged(old, obj *unstructured.Unstructured) bool {
	if obj.GetGeneration() == 0 {
		if old.GetResourceVersion() == obj.GetResourceVersion() {
			return false
		}
		return !onlyClaimSet(old, obj)
	}
	return old.GetGeneration() != obj.GetGeneration() ||
		!apiequality.Semantic.DeepEqual(old.GetLabels(), obj.GetLabels()) ||
		(!apiequality.Semantic.DeepEqual(old.GetAnnotations(), obj.GetAnnotations()) && !onlyClaimSet(old, obj)) ||
		!obj.GetDeletionTimestamp().Equal(old.GetDeletionTimestamp())
}

// onlyClaimSet reports whether obj differs from old in nothing but a newly
// set claim annotation, besides status (compared for kinds without a
// generation, such as ConfigMaps, whose every field is content). A claim
// changed from one policy to another is the detector's own doing too.
func onlyClaimSet(old, obj *unstructured.Unstructured) bool {
	claim := obj.GetAnnotations()[workv1alpha1.AnnotationPolicy]
	if claim == "" || claim == old.GetAnnotations()[workv1alpha1.AnnotationPolicy] {
		return false
	}
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		a := c.GetAnnotations()
		delete(a, workv1alpha1.AnnotationPolicy)
		if len(a) == 0 {
			a = nil
		}
		c.SetAnnotations(a)
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(c.Object, "status")
		return c.Object
	}
	return apiequality.Semantic.DeepEqual(strip(old), strip(obj))
}

// sync handles one queue item.
func (d *Detector) sync(ctx context.Context, k templateKey) (time.Duration, error) {
	switch k {
	case policiesKey:
		return 0, d.syncPolicies(ctx)
	case kindsKey:
		return 0, d.watchKinds()
	}
	d.pending.taken(k)
	return 0, d.syncTemplate(ctx, k)
}

// syncPolicies makes sure every kind a policy selects is watched, and
// re-evaluates every watched template.
func (d *Detector) syncPolicies(ctx context.Context) error {
	var pps policyv1alpha1.PropagationPolicyList
	var cpps policyv1alpha1.ClusterPropagationPolicyList
	if err := d.p.client.List(ctx, &pps); err != nil {
		return err
	}
	if err := d.p.client.List(ctx, &cpps); err != nil {
		return err
	}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, p := range pps.Items {
		addKinds(kinds, &p.Spec)
	}
	for _, p := range cpps.Items {
		addKinds(kinds, &p.Spec)
	}
	d.mu.Lock()
	d.selected = kinds
	d.mu.Unlock()
	if err := d.watchKinds(); err != nil {
		return err
	}
	for _, inf := range d.p.templates.all() {
		for _, o := range inf.GetStore().List() {
			u := o.(*unstructured.Unstructured)
			if !kinds[u.GroupVersionKind()] && u.GetAnnotations()[workv1alpha1.AnnotationPolicy] == "" {
				continue
			}
			d.add(templateKey{GVK: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()})
		}
	}
	return nil
}

// watchKinds starts an informer for every selected kind the hub serves.
// The informer's initial list brings its templates to the queue. Kinds not
// served yet, most often CRDs still to come, are looked for again in 5s.
func (d *Detector) watchKinds() error {
	d.mu.RLock()
	kinds := d.selected
	d.mu.RUnlock()
	missing := false
	for gvk := range kinds {
		m, err := d.p.mapper.Map(gvk)
		if err != nil {
			missing = true
			continue
		}
		if _, err := d.p.templates.get(m); err != nil {
			return err
		}
	}
	if missing {
		d.queue.AddAfter(kindsKey, 5*time.Second)
	}
	return nil
}

func addKinds(set map[schema.GroupVersionKind]bool, spec *policyv1alpha1.PropagationSpec) {
	for _, s := range spec.ResourceSelectors {
		gv, err := schema.ParseGroupVersion(s.APIVersion)
		if err == nil {
			set[gv.WithKind(s.Kind)] = true
		}
	}
}

// syncTemplate claims one template, or releases it, and keeps its binding.
func (d *Detector) syncTemplate(ctx context.Context, k templateKey) error {
	m, err := d.p.mapper.Map(k.GVK)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil
		}
		return err
	}
	inf, err := d.p.templates.get(m)
	if err != nil {
		return err
	}
	if !inf.HasSynced() {
		d.queue.AddAfter(k, 200*time.Millisecond)
		return nil
	}
	bkey := types.NamespacedName{Namespace: k.Namespace, Name: workv1alpha1.BindingName(k.Name, k.GVK.Kind)}
	obj, err := objectFrom(inf, k.Namespace, k.Name)
	if err != nil {
		return err
	}
	if obj == nil || !obj.GetDeletionTimestamp().IsZero() || !propagatable(obj) {
		d.claims.Forget(k)
		return d.deleteBinding(ctx, m.Namespaced, bkey)
	}
	var pps policyv1alpha1.PropagationPolicyList
	if k.Namespace != "" {
		if err := d.p.client.List(ctx, &pps, client.InNamespace(k.Namespace)); err != nil {
			return err
		}
	}
	var cpps policyv1alpha1.ClusterPropagationPolicyList
	if err := d.p.client.List(ctx, &cpps); err != nil {
		return err
	}
	current := obj.GetAnnotations()[workv1alpha1.AnnotationPolicy]
	c, ok := choose(candidates(obj, pps.Items, cpps.Items), current)
	if !ok {
		if current != "" {
			if err := d.setClaim(ctx, m, obj, nil); err != nil {
				return err
			}
		}
		return d.deleteBinding(ctx, m.Namespaced, bkey)
	}
	// The binding first: the scheduler starts on it while the claim is
	// written.
	created, err := d.ensureBinding(ctx, m, obj, bkey, c)
	if err != nil {
		return err
	}
	if claim := Claim(c.Ref); claim != current {
		if current == "" && !mayBeDependency(k.GVK) {
			// The binding is what the pipeline runs on; a first claim
			// is for the user to see. While a burst of templates and
			// bindings waits for the members, it waits behind them;
			// otherwise, when the binding was just created, until
			// execution has sent its member creates (firstReportDelay).
			busy := d.p.Busy()
			if d.claims.Hold(k, busy, time.Now()) {
				return nil
			}
			if created && !busy {
				d.queue.AddWithOpts(priorityqueue.AddOpts{After: firstReportDelay, Priority: ptr.To(claimPriority)}, k)
				return nil
			}
		}
		if err := d.setClaim(ctx, m, obj, &claim); err != nil {
			return err
		}
		if current != "" {
			d.p.recorder.Eventf(obj, nil, "Normal", "Claimed", "Claim", "claimed by %s, which replaced %s", describeRef(c.Ref), current)
		}
	}
	return nil
}

// mayBeDependency reports whether templates of gvk can be a workload's
// dependency (dependenciesOf): their claim is never held, because an
// unclaimed dependency is propagated with its workload too, and the two
// would fight over it until the claim lands.
func mayBeDependency(gvk schema.GroupVersionKind) bool {
	if gvk.Group != "" || gvk.Version != "v1" {
		return false
	}
	switch gvk.Kind {
	case "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim":
		return true
	}
	return false
}

// claimPriority is the queue priority of a first claim let out after the
// pipeline was busy.
const claimPriority = -1

// firstReportDelay is how long a new template's first claim waits after its
// binding was created: long enough for execution to have sent the member
// creates, so that the hub's write of the claim does not compete with them
// for the machine (on a small hub it took 100-170 ms when it did, and so did
// the member create it ran beside).
const firstReportDelay = 250 * time.Millisecond

// setClaim writes (or, with nil, removes) the claim annotation.
func (d *Detector) setClaim(ctx context.Context, m Mapping, obj *unstructured.Unstructured, claim *string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{workv1alpha1.AnnotationPolicy: claim},
	}})
	_, err := d.p.dynamic.Resource(m.GVR).Namespace(obj.GetNamespace()).
		Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// desiredSpec is the binding spec for obj under policy c, without the
// scheduler's decision.
func desiredSpec(obj *unstructured.Unstructured, c candidate) workv1alpha1.BindingSpec {
	ps := podSpecOf(obj)
	s := workv1alpha1.BindingSpec{
		Resource: workv1alpha1.ObjectReference{
			APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
			Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID()),
		},
		Replicas:                    replicasOf(obj),
		ReplicaRequirements:         requirementsOf(ps),
		Policy:                      c.Ref,
		Placement:                   *c.Spec.Placement.DeepCopy(),
		ConflictResolution:          c.Spec.ConflictResolution,
		PreserveResourcesOnDeletion: c.Spec.PreserveResourcesOnDeletion != nil && *c.Spec.PreserveResourcesOnDeletion,
		Suspension:                  c.Spec.Suspension.DeepCopy(),
		Failover:                    c.Spec.Failover.DeepCopy(),
	}
	if s.ConflictResolution == "" {
		s.ConflictResolution = policyv1alpha1.ConflictAbort
	}
	if c.Spec.PropagateDeps {
		s.Dependencies = dependenciesOf(ps, obj.GetNamespace())
	}
	return s
}

// ensureBinding creates or updates the binding of obj, and reports whether it
// created it.
func (d *Detector) ensureBinding(ctx context.Context, m Mapping, obj *unstructured.Unstructured, key types.NamespacedName, c candidate) (bool, error) {
	want := desiredSpec(obj, c)
	b := workv1alpha1.NewBinding(m.Namespaced)
	err := d.p.client.Get(ctx, key, b)
	if err == nil {
		d.created.seen(key)
	}
	if apierrors.IsNotFound(err) && d.created.inFlight(key, time.Now()) {
		// Created moments ago and not in the cache yet: look again once
		// it is, in case the spec must change.
		d.queue.AddAfter(templateKey{GVK: m.GVK, Namespace: obj.GetNamespace(), Name: obj.GetName()}, firstReportDelay)
		return false, nil
	}
	if apierrors.IsNotFound(err) {
		b.SetNamespace(key.Namespace)
		b.SetName(key.Name)
		b.SetLabels(map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue})
		b.SetFinalizers([]string{workv1alpha1.FinalizerCleanup})
		if m.Namespaced {
			// Garbage collection removes the binding if the template goes
			// while the hub is down.
			b.SetOwnerReferences([]metav1.OwnerReference{ownerRef(obj)})
		}
		if place := d.p.opts.Place; place != nil {
			var clusters clusterv1alpha1.ClusterList
			// Read-only: no need to copy the cache.
			if err := d.p.client.List(ctx, &clusters, client.UnsafeDisableDeepCopy); err != nil {
				return false, err
			}
			want.Clusters = place(&want, clusters.Items)
		}
		*b.GetSpec() = want
		switch err := d.p.client.Create(ctx, b); {
		case err == nil:
			metrics.BindingsCreated.Inc()
			d.created.add(key, time.Now())
			return true, nil
		case !apierrors.IsAlreadyExists(err):
			return false, fmt.Errorf("create binding %s: %w", key, err)
		}
		// Someone else's, or ours not in the cache yet: compare the
		// spec once the cache holds it.
		d.queue.AddAfter(templateKey{GVK: m.GVK, Namespace: obj.GetNamespace(), Name: obj.GetName()}, firstReportDelay)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !b.GetDeletionTimestamp().IsZero() {
		// The old binding is still cleaning up; come back when it is gone.
		d.queue.AddAfter(templateKey{GVK: m.GVK, Namespace: obj.GetNamespace(), Name: obj.GetName()}, time.Second)
		return false, nil
	}
	cur := b.GetSpec()
	// The scheduler's fields, and the user's rebalance request.
	want.Clusters, want.Evictions, want.RescheduleTriggeredAt = cur.Clusters, cur.Evictions, cur.RescheduleTriggeredAt
	if apiequality.Semantic.DeepEqual(*cur, want) {
		return false, nil
	}
	orig := b.DeepCopyObject().(client.Object)
	if cur.Resource.UID != want.Resource.UID && m.Namespaced {
		// A new template of the same name: own the binding through it, or
		// garbage collection would take the binding with the old one.
		b.SetOwnerReferences([]metav1.OwnerReference{ownerRef(obj)})
	}
	*cur = want
	if err := d.p.client.Patch(ctx, b, client.MergeFrom(orig)); err != nil {
		return false, fmt.Errorf("update binding %s: %w", key, err)
	}
	return false, nil
}

func (d *Detector) deleteBinding(ctx context.Context, namespaced bool, key types.NamespacedName) error {
	d.created.seen(key)
	b := workv1alpha1.NewBinding(namespaced)
	if err := d.p.client.Get(ctx, key, b); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !b.GetDeletionTimestamp().IsZero() {
		return nil
	}
	return client.IgnoreNotFound(d.p.client.Delete(ctx, b))
}

func ownerRef(obj *unstructured.Unstructured) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName(), UID: obj.GetUID()}
}
