package propagation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hold"
	"github.com/flotilla-io/flotilla/internal/metrics"
	"github.com/flotilla-io/flotilla/internal/overrides"
	"github.com/flotilla-io/flotilla/internal/workload"
)

// StatusFieldManager owns the parts of a binding's status that execution
// writes; the scheduler owns the rest.
const StatusFieldManager = "flotilla-execution"

// bindingKey names a binding; Namespace is empty for a
// ClusterResourceBinding.
type bindingKey struct {
	Namespaced bool
	Namespace  string
	Name       string
}

func (k bindingKey) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

func keyOf(b workv1alpha1.Binding) bindingKey {
	_, namespaced := b.(*workv1alpha1.ResourceBinding)
	return bindingKey{Namespaced: namespaced, Namespace: b.GetNamespace(), Name: b.GetName()}
}

// +kubebuilder:rbac:groups=work.flotilla.io,resources=resourcebindings/status;clusterresourcebindings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=*,resources=*/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Execution applies bindings to members and reports their status.
type Execution struct {
	p *Pipeline
	// queue serves bindings whose spec or template changed before those
	// whose members' status only moved (statusPriority), so that during a
	// bulk rollout new objects reach the members before status refreshes
	// of the objects already there are written to the hub.
	queue priorityqueue.PriorityQueue[bindingKey]

	// deps maps a dependency (NAMESPACE/KIND/NAME) to the bindings that
	// carry it, to requeue them when it changes.
	mu     sync.Mutex
	deps   map[string]map[bindingKey]bool
	depsOf map[bindingKey][]string

	// reports holds back status writes while the pipeline is busy.
	reports *hold.Reports[bindingKey]

	// pending holds the bindings queued at the first priority (a new or
	// changed binding, template, dependency or cluster) and not looked at
	// since.
	pending *pendingSet[bindingKey]

	// finalized holds the UIDs of the deleted bindings whose finalizer this
	// process removed, until forgetAfter after the informer saw them go: a
	// sync in between reads the cache from before the removal and would
	// clean the members and patch the binding again.
	finalized   sync.Map
	forgetAfter time.Duration
}

// forgetFinalizedAfter is how long a finalized binding stays remembered
// after its informer saw it go, for the syncs that read it just before.
// UIDs are never reused, so a late forget is harmless.
const forgetFinalizedAfter = 10 * time.Second

// cleanedUp reports whether b is a deleted binding whose finalizer this
// process already removed.
func (e *Execution) cleanedUp(b workv1alpha1.Binding) bool {
	if b.GetDeletionTimestamp().IsZero() {
		return false
	}
	_, done := e.finalized.Load(b.GetUID())
	return done
}

// add queues k at the first priority.
func (e *Execution) add(k bindingKey) {
	e.pending.add(k)
	e.queue.Add(k)
}

func newExecution(p *Pipeline) *Execution {
	return &Execution{
		p: p,
		queue: priorityqueue.New("execution", func(o *priorityqueue.Opts[bindingKey]) {
			o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[bindingKey]()
		}),
		deps:        map[string]map[bindingKey]bool{},
		depsOf:      map[bindingKey][]string{},
		reports:     hold.New[bindingKey](),
		pending:     newPendingSet[bindingKey](),
		forgetAfter: forgetFinalizedAfter,
	}
}

func (e *Execution) watch(ctx context.Context) error {
	for _, obj := range []client.Object{&workv1alpha1.ResourceBinding{}, &workv1alpha1.ClusterResourceBinding{}} {
		inf, err := e.p.cache.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		add := func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if b, ok := o.(workv1alpha1.Binding); ok {
				e.add(keyOf(b))
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: add, DeleteFunc: e.onBindingDeleted,
			UpdateFunc: func(old, o any) {
				ob, nb := old.(client.Object), o.(client.Object)
				if ob.GetUID() != nb.GetUID() {
					// Deleted and made again while the watch was down.
					e.forgetFinalized(ob.GetUID())
				}
				if ob.GetGeneration() != nb.GetGeneration() || !ob.GetDeletionTimestamp().Equal(nb.GetDeletionTimestamp()) {
					add(o)
				}
			},
		}); err != nil {
			return err
		}
	}
	// An agent's report on a Pull cluster's Work comes back to its binding.
	winf, err := e.p.cache.GetInformer(ctx, &workv1alpha1.Work{})
	if err != nil {
		return err
	}
	toBinding := func(o any) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		if w, ok := o.(*workv1alpha1.Work); ok {
			if k, ok := workOwner(w); ok {
				e.add(k)
			}
		}
	}
	if _, err := winf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: toBinding,
		UpdateFunc: func(old, o any) {
			ow, nw := old.(*workv1alpha1.Work), o.(*workv1alpha1.Work)
			if !apiequality.Semantic.DeepEqual(ow.Status, nw.Status) {
				toBinding(o)
			}
		},
	}); err != nil {
		return err
	}
	// An override policy can change the objects of any binding in its
	// namespace (a ClusterOverridePolicy: any binding): look at them. Their
	// initial list wakes nothing; the bindings' own does.
	for _, obj := range []client.Object{&policyv1alpha1.OverridePolicy{}, &policyv1alpha1.ClusterOverridePolicy{}} {
		inf, err := e.p.cache.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		all := func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if op, ok := o.(*policyv1alpha1.OverridePolicy); ok {
				e.enqueueBindings(ctx, op.Namespace, nil)
				return
			}
			e.enqueueAll(ctx)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc: func(o any, initial bool) {
				if !initial {
					all(o)
				}
			},
			UpdateFunc: func(old, o any) {
				if old.(client.Object).GetGeneration() != o.(client.Object).GetGeneration() {
					all(o)
				}
			},
			DeleteFunc: all,
		}); err != nil {
			return err
		}
	}
	inf, err := e.p.cache.GetInformer(ctx, &clusterv1alpha1.Cluster{})
	if err != nil {
		return err
	}
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, o any) {
			oc, nc := old.(*clusterv1alpha1.Cluster), o.(*clusterv1alpha1.Cluster)
			// Labels and fields pick the clusters of override rules.
			if ready(oc) != ready(nc) || !maps.Equal(oc.Labels, nc.Labels) || oc.Spec.APIEndpoint != nc.Spec.APIEndpoint ||
				oc.Spec.Provider != nc.Spec.Provider || oc.Spec.Region != nc.Spec.Region || oc.Spec.Zone != nc.Spec.Zone {
				// Only the bindings placed there, or with objects there.
				e.enqueueBindings(ctx, "", func(b workv1alpha1.Binding) bool { return onCluster(b, nc.Name) })
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if c, ok := o.(*clusterv1alpha1.Cluster); ok {
				e.p.members.forget(c.Name)
			}
		},
	})
	return err
}

// onBindingDeleted forgets that a binding was finalized, now that the
// cache has seen it go, and looks at it once more.
func (e *Execution) onBindingDeleted(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if b, ok := o.(workv1alpha1.Binding); ok {
		e.forgetFinalized(b.GetUID())
		e.add(keyOf(b))
	}
}

func (e *Execution) forgetFinalized(uid types.UID) {
	if e.forgetAfter <= 0 {
		e.finalized.Delete(uid)
		return
	}
	time.AfterFunc(e.forgetAfter, func() { e.finalized.Delete(uid) })
}

func (e *Execution) enqueueAll(ctx context.Context) { e.enqueueBindings(ctx, "", nil) }

// enqueueBindings queues the bindings in namespace (every binding, the
// cluster-scoped ones too, when namespace is ""), or only those for which
// keep is true.
func (e *Execution) enqueueBindings(ctx context.Context, namespace string, keep func(workv1alpha1.Binding) bool) {
	var rbs workv1alpha1.ResourceBindingList
	if e.p.client.List(ctx, &rbs, client.InNamespace(namespace), client.UnsafeDisableDeepCopy) == nil {
		for i := range rbs.Items {
			if keep == nil || keep(&rbs.Items[i]) {
				e.add(keyOf(&rbs.Items[i]))
			}
		}
	}
	if namespace != "" {
		return
	}
	var crbs workv1alpha1.ClusterResourceBindingList
	if e.p.client.List(ctx, &crbs, client.UnsafeDisableDeepCopy) == nil {
		for i := range crbs.Items {
			if keep == nil || keep(&crbs.Items[i]) {
				e.add(keyOf(&crbs.Items[i]))
			}
		}
	}
}

// onCluster reports whether b is placed on cluster or still reports
// objects there.
func onCluster(b workv1alpha1.Binding, cluster string) bool {
	for _, t := range b.GetSpec().Clusters {
		if t.Name == cluster {
			return true
		}
	}
	for _, cs := range b.GetBindingStatus().Clusters {
		if cs.Cluster == cluster {
			return true
		}
	}
	return false
}

func ready(c *clusterv1alpha1.Cluster) bool {
	return meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady)
}

// onTemplate requeues the binding of a changed template, and the bindings
// that carry a dependency that appeared, changed or went. A template that
// appears or goes comes back through its binding, which the detector
// creates, updates or deletes (and the informer's first list requeues every
// binding): queueing it here would only look for a binding that is not
// there yet, for every new template of the kind, selected or not.
func (e *Execution) onTemplate(m Mapping, obj, old *unstructured.Unstructured) {
	if old != nil && !templateChanged(old, obj) {
		return
	}
	if old != nil {
		e.add(bindingKey{Namespaced: m.Namespaced, Namespace: obj.GetNamespace(), Name: workv1alpha1.BindingName(obj.GetName(), obj.GetKind())})
	}
	e.enqueueDependents(obj.GetNamespace(), obj.GetKind(), obj.GetName())
}

func (e *Execution) enqueueDependents(namespace, kind, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.deps[namespace+"/"+kind+"/"+name] {
		e.add(k)
	}
}

// onMemberObject requeues the binding of an object that changed in a
// member: its status moved, or someone changed or deleted it.
func (e *Execution) onMemberObject(_ string, obj, old *unstructured.Unstructured, gone bool) {
	if ref := obj.GetAnnotations()[workv1alpha1.AnnotationBinding]; ref != "" {
		k := bindingKey{Name: ref}
		if ns, name, found := strings.Cut(ref, "/"); found {
			k = bindingKey{Namespaced: true, Namespace: ns, Name: name}
		}
		if !gone && (old == nil || !templateChanged(old, obj)) {
			// A new object (most often the one execution just wrote), or
			// one whose status only moved: let a burst of status updates
			// collapse into one reconcile and one status write, after the
			// bindings that have objects to apply. A binding whose report
			// is held is looked at when it is released, with whatever
			// the member says then.
			if e.reports.IsParked(k) {
				return
			}
			e.queue.AddWithOpts(priorityqueue.AddOpts{After: statusCoalesce, Priority: ptr.To(statusPriority)}, k)
			return
		}
		e.add(k)
		return
	}
	if obj.GetLabels()[workv1alpha1.LabelDependency] != "" {
		e.enqueueDependents(obj.GetNamespace(), obj.GetKind(), obj.GetName())
	}
}

// target is one cluster's part of a sync.
type target struct {
	name     string
	replicas *int32
	cluster  *clusterv1alpha1.Cluster
}

// sync reconciles one binding. It returns a delay after which to look
// again when something is still pending.
func (e *Execution) sync(ctx context.Context, k bindingKey) (time.Duration, error) {
	e.pending.taken(k)
	b := workv1alpha1.NewBinding(k.Namespaced)
	if err := e.p.client.Get(ctx, types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, b); err != nil {
		if apierrors.IsNotFound(err) {
			e.reports.Forget(k)
		}
		return 0, client.IgnoreNotFound(err)
	}
	if e.cleanedUp(b) {
		return 0, nil
	}
	spec := b.GetSpec()
	gvk := schema.FromAPIVersionAndKind(spec.Resource.APIVersion, spec.Resource.Kind)
	tmpl, m, synced, err := e.p.hubObject(gvk, spec.Resource.Namespace, spec.Resource.Name)
	if err != nil {
		if meta.IsNoMatchError(err) && !b.GetDeletionTimestamp().IsZero() {
			return 0, e.removeFinalizer(ctx, b)
		}
		return 0, err
	}
	if !synced {
		// The informer's first list requeues every binding; this is the
		// fallback.
		return syncGrace, nil
	}
	var clusters clusterv1alpha1.ClusterList
	// Read-only: no need to copy the cache.
	if err := e.p.client.List(ctx, &clusters, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	byName := map[string]*clusterv1alpha1.Cluster{}
	for i := range clusters.Items {
		byName[clusters.Items[i].Name] = &clusters.Items[i]
	}
	if !b.GetDeletionTimestamp().IsZero() {
		return e.finalize(ctx, b, m, byName)
	}
	if tmpl == nil || string(tmpl.GetUID()) != spec.Resource.UID {
		// The detector deletes or updates the binding.
		return 0, nil
	}
	e.indexDeps(k, spec.Dependencies)
	deps, depMsgs, depsSynced := e.dependencies(b)
	if !depsSynced {
		return syncGrace, nil
	}

	targets := make([]target, 0, len(spec.Clusters))
	for _, tc := range spec.Clusters {
		t := target{name: tc.Name, cluster: byName[tc.Name]}
		if divisible(spec.Resource.APIVersion, spec.Resource.Kind) {
			r := tc.Replicas
			t.replicas = &r
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 && len(b.GetBindingStatus().Clusters) == 0 {
		// Not scheduled yet, and nothing to clean: nothing to say.
		return 0, nil
	}
	prev := map[string]workv1alpha1.ClusterStatus{}
	for _, cs := range b.GetBindingStatus().Clusters {
		prev[cs.Cluster] = cs
	}
	policies, err := e.overridePolicies(ctx, tmpl)
	if err != nil {
		return 0, err
	}
	results := make([]workv1alpha1.ClusterStatus, len(targets))
	var wg sync.WaitGroup
	for i := range targets {
		wg.Go(func() {
			results[i] = e.syncCluster(ctx, b, m, tmpl, deps, policies, targets[i], prev[targets[i].name])
			if len(depMsgs) > 0 && results[i].Applied {
				results[i].Message = strings.Join(depMsgs, "; ")
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.Reason == reasonCacheSyncing {
			// Say nothing until every member's cache is complete: a hub
			// that just started must not report, or redo, what is done.
			// The cache's first list requeues every binding; syncGrace is
			// the fallback, when it reports a cache that cannot list.
			return syncGrace, nil
		}
	}

	now := metav1.NewTime(time.Now().Truncate(time.Second))
	healthy := true
	for i := range results {
		r := &results[i]
		if p, ok := prev[r.Cluster]; ok && p.Health == r.Health && p.HealthTransitionTime != nil {
			r.HealthTransitionTime = p.HealthTransitionTime
		} else if r.Health != "" {
			r.HealthTransitionTime = &now
		}
		healthy = healthy && r.Health == workv1alpha1.HealthHealthy
	}

	leaving, wait, err := e.removeLeft(ctx, b, m, targets, byName, healthy)
	if err == nil && len(leaving) == 0 {
		// Apply now, report later. While a burst passes through the
		// pipeline the status of a binding whose objects are in place
		// and healthy or on their way is held back (reports): a bulk
		// rollout then reaches the members at the pace of the member
		// writes, not of the hub's status writes. Failures, unhealthy
		// objects and clusters that left are reported at once.
		if holdable(b.GetBindingStatus().Clusters, results) && e.reports.Hold(k, e.p.Busy(), time.Now()) {
			return 0, nil
		}
	}
	results = append(results, leaving...)
	sort.Slice(results, func(i, j int) bool { return results[i].Cluster < results[j].Cluster })
	if serr := e.writeStatus(ctx, b, results); serr != nil {
		return 0, serr
	}
	if aerr := e.aggregate(ctx, m, tmpl, results); aerr != nil {
		return 0, aerr
	}
	if err != nil {
		return 0, err
	}
	// Clusters that are not Ready (or pull their work) come back through
	// the Cluster watch, not through polling.
	after := wait
	for _, r := range results {
		if r.Reason == workv1alpha1.ReasonApplyFailed || r.Reason == reasonRemoving {
			return 0, fmt.Errorf("cluster %s: %s", r.Cluster, r.Message)
		}
		if r.Reason == workv1alpha1.ReasonConflict && (after == 0 || conflictRecheck < after) {
			after = conflictRecheck
		}
	}
	return after, nil
}

// holdable reports whether a binding's new results may wait for a burst to
// pass: every cluster holds its object and none is unhealthy (failover
// reads the health), and no cluster the status lists has left.
func holdable(have, results []workv1alpha1.ClusterStatus) bool {
	in := make(map[string]bool, len(results))
	for _, r := range results {
		if !r.Applied || r.Reason != workv1alpha1.ReasonApplied || r.Health == workv1alpha1.HealthUnhealthy {
			return false
		}
		in[r.Cluster] = true
	}
	for _, h := range have {
		if !in[h.Cluster] {
			return false
		}
	}
	return true
}

// memberRequestTimeout bounds each request to a member.
const memberRequestTimeout = 30 * time.Second

// conflictRecheck is how often a binding in Conflict looks again: the
// member's own object is not watched, so its removal sends no event.
const conflictRecheck = 30 * time.Second

// statusCoalesce is how long a member's status-only change waits, so that
// the several updates of a rollout make one status write on the hub.
const statusCoalesce = time.Second

// statusPriority is the queue priority of a status-only refresh; every
// other reason to look at a binding has priority 0.
const statusPriority = -1

// reasonCacheSyncing marks a cluster whose objects the hub has not listed
// yet; it never reaches the status.
const reasonCacheSyncing = "CacheSyncing"

// reasonRemoving marks a cluster the binding left whose objects are not
// removed yet.
const reasonRemoving = "Removing"

// reasonEvicting marks a cluster the binding is failing over from whose
// objects wait for their replacements to be healthy.
const reasonEvicting = "Evicting"

// dependencies returns the dependency objects of b that exist on the hub,
// and a note for each that does not or may not be propagated. synced is
// false while a hub cache they come from is still listing.
func (e *Execution) dependencies(b workv1alpha1.Binding) (out []*unstructured.Unstructured, msgs []string, synced bool) {
	for _, d := range b.GetSpec().Dependencies {
		o, _, ok, err := e.p.hubObject(schema.FromAPIVersionAndKind(d.APIVersion, d.Kind), d.Namespace, d.Name)
		switch {
		case err != nil:
			msgs = append(msgs, fmt.Sprintf("dependency %s: %v", dependencyName(d), err))
		case !ok:
			return nil, nil, false
		case o == nil:
			msgs = append(msgs, fmt.Sprintf("dependency %s does not exist on the hub", dependencyName(d)))
		case !propagatable(o):
			msgs = append(msgs, fmt.Sprintf("dependency %s is a hub credential and is never propagated", dependencyName(d)))
		case o.GetAnnotations()[workv1alpha1.AnnotationPolicy] != "":
			// Propagated by a policy of its own: one owner, or the two
			// would fight over its labels.
			continue
		default:
			out = append(out, o)
		}
	}
	return out, msgs, true
}

func (e *Execution) indexDeps(k bindingKey, deps []workv1alpha1.ObjectReference) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range e.depsOf[k] {
		delete(e.deps[key], k)
		if len(e.deps[key]) == 0 {
			delete(e.deps, key)
		}
	}
	delete(e.depsOf, k)
	for _, d := range deps {
		key := d.Namespace + "/" + d.Kind + "/" + d.Name
		if e.deps[key] == nil {
			e.deps[key] = map[bindingKey]bool{}
		}
		e.deps[key][k] = true
		e.depsOf[k] = append(e.depsOf[k], key)
	}
}

func suspended(s *policyv1alpha1.Suspension, cluster string) bool {
	if s == nil {
		return false
	}
	if s.Dispatching != nil && *s.Dispatching {
		return true
	}
	if s.DispatchingOnClusters != nil {
		for _, c := range s.DispatchingOnClusters.ClusterNames {
			if c == cluster {
				return true
			}
		}
	}
	return false
}

// syncCluster brings one member up to date with the binding and reports
// what it found.
func (e *Execution) syncCluster(ctx context.Context, b workv1alpha1.Binding, m Mapping, tmpl *unstructured.Unstructured,
	deps []*unstructured.Unstructured, policies []overrides.Policy, t target, prev workv1alpha1.ClusterStatus) workv1alpha1.ClusterStatus {
	cs := workv1alpha1.ClusterStatus{Cluster: t.name, Health: workv1alpha1.HealthUnknown}
	fail := func(reason, format string, args ...any) workv1alpha1.ClusterStatus {
		cs.Applied, cs.Reason, cs.Message = false, reason, fmt.Sprintf(format, args...)
		if reason == workv1alpha1.ReasonClusterNotReady || reason == workv1alpha1.ReasonSuspended ||
			reason == workv1alpha1.ReasonApplyFailed || reason == workv1alpha1.ReasonOverrideFailed {
			// What the member last reported still stands.
			cs.Health, cs.Status = prev.Health, prev.Status
			if reason != workv1alpha1.ReasonApplyFailed && reason != workv1alpha1.ReasonOverrideFailed {
				cs.Applied = prev.Applied
			}
			cs.Generation, cs.ObservedGeneration = prev.Generation, prev.ObservedGeneration
		}
		// What was applied there stays recorded, so that it is removed
		// when the template leaves.
		cs.Dependencies = prev.Dependencies
		return cs
	}
	if t.cluster == nil {
		return fail(workv1alpha1.ReasonClusterNotReady, "cluster %s does not exist", t.name)
	}
	if !t.cluster.DeletionTimestamp.IsZero() {
		return fail(workv1alpha1.ReasonClusterNotReady, "cluster %s is leaving the fleet", t.name)
	}
	if t.cluster.Spec.SyncMode == clusterv1alpha1.Pull {
		// The hub writes the cluster's work whether or not its agent is
		// connected: the agent applies it when it is.
		return e.syncPull(ctx, b, tmpl, deps, policies, t, prev)
	}
	if !ready(t.cluster) {
		msg := "not probed yet"
		if c := meta.FindStatusCondition(t.cluster.Status.Conditions, clusterv1alpha1.ConditionReady); c != nil {
			msg = c.Reason + ": " + c.Message
		}
		return fail(workv1alpha1.ReasonClusterNotReady, "cluster %s is not Ready (%s)", t.name, msg)
	}
	mc, err := e.p.members.get(ctx, e.p.client, t.cluster)
	if err != nil {
		return fail(workv1alpha1.ReasonApplyFailed, "%v", err)
	}
	inf, err := mc.informers.get(m)
	if err != nil {
		return fail(workv1alpha1.ReasonApplyFailed, "%v", err)
	}
	if err := mc.informers.synced(m, inf); err != nil {
		if errors.Is(err, errNotSynced) {
			return fail(reasonCacheSyncing, "waiting for the hub's cache of cluster %s", t.name)
		}
		return fail(workv1alpha1.ReasonApplyFailed, "cluster %s: %v", t.name, err)
	}
	live, err := objectFrom(inf, tmpl.GetNamespace(), tmpl.GetName())
	if err != nil {
		return fail(workv1alpha1.ReasonApplyFailed, "%v", err)
	}
	if suspended(b.GetSpec().Suspension, t.name) {
		cs = fail(workv1alpha1.ReasonSuspended, "propagation to %s is suspended by the policy", t.name)
		if live != nil {
			fillLive(&cs, live)
		}
		return cs
	}
	manifest := render(tmpl, keyOf(b).String(), string(b.GetUID()), t.replicas)
	applied, err := applyOverrides(manifest, t.cluster, policies)
	if err != nil {
		msg := err.Error() + "; the cluster keeps its last good object"
		if prev.Message != msg {
			e.p.recorder.Eventf(b, nil, corev1.EventTypeWarning, workv1alpha1.ReasonOverrideFailed, "Override", "cluster %s: %s", t.name, msg)
		}
		cs = fail(workv1alpha1.ReasonOverrideFailed, "%s", msg)
		cs.Overrides = prev.Overrides
		if live != nil {
			fillLive(&cs, live)
		}
		return cs
	}
	conflict := b.GetSpec().ConflictResolution != policyv1alpha1.ConflictOverwrite
	if !upToDate(manifest, live) {
		applied, reason, msg := e.apply(ctx, mc, m, manifest, live, conflict)
		if reason != "" {
			if reason == workv1alpha1.ReasonConflict && prev.Reason != workv1alpha1.ReasonConflict {
				e.p.recorder.Eventf(b, nil, corev1.EventTypeWarning, workv1alpha1.ReasonConflict, "Apply", "%s", msg)
				e.p.recorder.Eventf(tmpl, nil, corev1.EventTypeWarning, workv1alpha1.ReasonConflict, "Apply", "%s", msg)
			} else if reason == workv1alpha1.ReasonApplyFailed && prev.Message != msg {
				e.p.recorder.Eventf(b, nil, corev1.EventTypeWarning, workv1alpha1.ReasonApplyFailed, "Apply", "%s", msg)
			}
			return fail(reason, "%s", msg)
		}
		if ct := tmpl.GetCreationTimestamp(); live == nil && !ct.IsZero() {
			metrics.PropagationLatency.Observe(time.Since(ct.Time).Seconds())
		}
		live = applied
	}
	for _, d := range deps {
		dm, err := e.p.mapper.Map(d.GroupVersionKind())
		if err != nil {
			return fail(workv1alpha1.ReasonApplyFailed, "dependency %s/%s: %v", d.GetKind(), d.GetName(), err)
		}
		dinf, err := mc.informers.get(dm)
		if err != nil {
			return fail(workv1alpha1.ReasonApplyFailed, "%v", err)
		}
		if err := mc.informers.synced(dm, dinf); err != nil {
			if errors.Is(err, errNotSynced) {
				return fail(reasonCacheSyncing, "waiting for the hub's cache of cluster %s", t.name)
			}
			return fail(workv1alpha1.ReasonApplyFailed, "cluster %s: %v", t.name, err)
		}
		dlive, _ := objectFrom(dinf, d.GetNamespace(), d.GetName())
		dmanifest := render(d, "", "", nil)
		if !upToDate(dmanifest, dlive) {
			if _, reason, msg := e.apply(ctx, mc, dm, dmanifest, dlive, conflict); reason != "" {
				return fail(reason, "dependency %s/%s: %s", d.GetKind(), d.GetName(), msg)
			}
		}
		cs.Dependencies = append(cs.Dependencies, d.GetKind()+"/"+d.GetName())
	}
	cs.Applied, cs.Reason = true, workv1alpha1.ReasonApplied
	cs.Overrides = applied
	fillLive(&cs, live)
	return cs
}

// overridePolicies returns the override policies that select tmpl, in the
// order they apply.
func (e *Execution) overridePolicies(ctx context.Context, tmpl *unstructured.Unstructured) ([]overrides.Policy, error) {
	var cops policyv1alpha1.ClusterOverridePolicyList
	if err := e.p.client.List(ctx, &cops); err != nil {
		return nil, fmt.Errorf("list ClusterOverridePolicies: %w", err)
	}
	var ops policyv1alpha1.OverridePolicyList
	if ns := tmpl.GetNamespace(); ns != "" {
		if err := e.p.client.List(ctx, &ops, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("list OverridePolicies: %w", err)
		}
	}
	return overrides.Matching(tmpl, ops.Items, cops.Items), nil
}

// maxAppliedOverrides is the API's limit of a cluster's status.overrides.
const maxAppliedOverrides = 64

// applyOverrides applies policies to manifest for cluster c. Flotilla's own
// labels and annotations, the name, namespace and kind survive whatever a
// policy does, and the manifest hash covers the result.
func applyOverrides(manifest *unstructured.Unstructured, c *clusterv1alpha1.Cluster, policies []overrides.Policy) ([]workv1alpha1.AppliedOverride, error) {
	if len(policies) == 0 {
		return nil, nil
	}
	gvk, ns, name := manifest.GroupVersionKind(), manifest.GetNamespace(), manifest.GetName()
	own := map[string]string{}
	for _, k := range []string{clusterv1alpha1.LabelManagedBy, workv1alpha1.LabelBindingUID, workv1alpha1.LabelDependency} {
		if v, ok := manifest.GetLabels()[k]; ok {
			own[k] = v
		}
	}
	ownAnn := manifest.GetAnnotations()[workv1alpha1.AnnotationBinding]
	applied, err := overrides.Apply(manifest, c, policies)
	if err != nil {
		return nil, err
	}
	if len(applied) > maxAppliedOverrides {
		// The status lists the last policies: they decide the result.
		applied = applied[len(applied)-maxAppliedOverrides:]
	}
	if manifest.GroupVersionKind() != gvk || manifest.GetNamespace() != ns || manifest.GetName() != name {
		return nil, fmt.Errorf("the overrides change the object's apiVersion, kind, namespace or name, which they may not")
	}
	labels := manifest.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, own)
	manifest.SetLabels(labels)
	ann := manifest.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if ownAnn != "" {
		ann[workv1alpha1.AnnotationBinding] = ownAnn
	}
	delete(ann, workv1alpha1.AnnotationManifestHash)
	manifest.SetAnnotations(ann)
	ann[workv1alpha1.AnnotationManifestHash] = hashOf(manifest.Object)
	manifest.SetAnnotations(ann)
	return applied, nil
}

// fillLive copies what the member reports of its object into cs.
func fillLive(cs *workv1alpha1.ClusterStatus, live *unstructured.Unstructured) {
	cs.Health = health(live)
	cs.Generation = live.GetGeneration()
	cs.ObservedGeneration, _, _ = unstructured.NestedInt64(live.Object, "status", "observedGeneration")
	if st := trimmedStatus(live); st != nil {
		raw, _ := json.Marshal(st)
		cs.Status = &runtime.RawExtension{Raw: raw}
	}
}

// apply writes manifest to the member unless that would take over an object
// Flotilla did not create and abortOnConflict is set. It returns the object
// as the member stored it, or a reason and message on failure.
//
// An object not in the cache (live is nil) is most often absent: it is
// created, one round trip, and only when the name is taken does apply read
// the member's object to decide. A create cannot take over anything, so
// Abort needs no read first, and no read can race with someone else's
// create.
func (e *Execution) apply(ctx context.Context, mc *memberClient, m Mapping, manifest, live *unstructured.Unstructured, abortOnConflict bool) (*unstructured.Unstructured, string, string) {
	ctx, cancel := context.WithTimeout(ctx, memberRequestTimeout)
	defer cancel()
	ri := resourceFor(mc, m, manifest.GetNamespace())
	if live == nil {
		out, err := e.create(ctx, mc, m, ri, manifest)
		if err == nil {
			return out, "", ""
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, workv1alpha1.ReasonApplyFailed, err.Error()
		}
		existing, err := ri.Get(ctx, manifest.GetName(), metav1.GetOptions{})
		switch {
		case err == nil:
			if existing.GetLabels()[clusterv1alpha1.LabelManagedBy] != clusterv1alpha1.ManagedByValue && abortOnConflict {
				metrics.MemberWrites.WithLabelValues(mc.name, "apply", "conflict").Inc()
				return nil, workv1alpha1.ReasonConflict, fmt.Sprintf(
					"%s %s already exists in cluster %s and Flotilla did not create it; set conflictResolution: Overwrite on the policy to take it over",
					manifest.GetKind(), objectName(manifest), mc.name)
			}
			if upToDate(manifest, existing) {
				// Flotilla's own, written a moment ago: the cache was behind.
				return existing, "", ""
			}
			live = existing
		case apierrors.IsNotFound(err):
			// Deleted in between: the apply creates it.
		default:
			return nil, workv1alpha1.ReasonApplyFailed, fmt.Sprintf("read %s %s in cluster %s: %v", manifest.GetKind(), objectName(manifest), mc.name, err)
		}
	}
	if live != nil && createdByFlotilla(live) {
		if err := e.upgradeManagedFields(ctx, mc, ri, manifest); err != nil {
			return nil, workv1alpha1.ReasonApplyFailed, err.Error()
		}
	}
	start := time.Now()
	out, err := e.inNamespace(ctx, mc, m, manifest.GetNamespace(), func() (*unstructured.Unstructured, error) {
		return ri.Apply(ctx, manifest.GetName(), manifest, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	})
	metrics.ApplyDuration.WithLabelValues(mc.name).Observe(time.Since(start).Seconds())
	if err != nil {
		metrics.MemberWrites.WithLabelValues(mc.name, "apply", "error").Inc()
		return nil, workv1alpha1.ReasonApplyFailed, fmt.Sprintf("apply %s %s to cluster %s: %v", manifest.GetKind(), objectName(manifest), mc.name, err)
	}
	metrics.MemberWrites.WithLabelValues(mc.name, "apply", "success").Inc()
	return out, "", ""
}

// create creates manifest in the member, and its namespace first when the
// member lacks it. The error is AlreadyExists when the name is taken.
func (e *Execution) create(ctx context.Context, mc *memberClient, m Mapping, ri resourceClient, manifest *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if m.Namespaced {
		if err := e.ensureNamespace(ctx, mc, manifest.GetNamespace()); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	out, err := e.inNamespace(ctx, mc, m, manifest.GetNamespace(), func() (*unstructured.Unstructured, error) {
		return ri.Create(ctx, manifest, metav1.CreateOptions{FieldManager: FieldManager})
	})
	metrics.ApplyDuration.WithLabelValues(mc.name).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		metrics.MemberWrites.WithLabelValues(mc.name, "create", "success").Inc()
		return out, nil
	case apierrors.IsAlreadyExists(err):
		return nil, err
	default:
		metrics.MemberWrites.WithLabelValues(mc.name, "create", "error").Inc()
		return nil, fmt.Errorf("create %s %s in cluster %s: %w", manifest.GetKind(), objectName(manifest), mc.name, err)
	}
}

// inNamespace runs write, and once more after making the namespace again
// when the member answers NotFound for a namespaced kind: the namespace
// went away in the member since the pipeline saw it.
func (e *Execution) inNamespace(ctx context.Context, mc *memberClient, m Mapping, ns string,
	write func() (*unstructured.Unstructured, error)) (*unstructured.Unstructured, error) {
	out, err := write()
	if err != nil && apierrors.IsNotFound(err) && m.Namespaced {
		mc.namespaces.Delete(ns)
		if nerr := e.ensureNamespace(ctx, mc, ns); nerr != nil {
			return nil, nerr
		}
		out, err = write()
	}
	return out, err
}

// createdByFlotilla reports whether live still carries the field ownership
// of Flotilla's create (an Update entry), which the cache keeps for this.
func createdByFlotilla(live *unstructured.Unstructured) bool {
	md, _ := live.Object["metadata"].(map[string]any)
	entries, _ := md["managedFields"].([]any)
	for _, e := range entries {
		if f, ok := e.(map[string]any); ok && createEntry(f) {
			return true
		}
	}
	return false
}

// createEntry is the managedFields entry a create by Flotilla leaves, read
// raw: converting entries to ManagedFieldsEntry for every event of every
// member object would cost more than the rest of the cache's transform.
func createEntry(f map[string]any) bool {
	return f["manager"] == FieldManager && f["operation"] == string(metav1.ManagedFieldsOperationUpdate) &&
		(f["subresource"] == nil || f["subresource"] == "")
}

// upgradeManagedFields hands the fields Flotilla's create owns to its
// server-side apply entry, once, before the object is applied again: then a
// field that left the manifest leaves the object too, as it does for
// objects that were applied from the start. The patch is conditional on the
// object's resourceVersion, so a concurrent change (a status update) makes
// it read and try again.
func (e *Execution) upgradeManagedFields(ctx context.Context, mc *memberClient, ri resourceClient, manifest *unstructured.Unstructured) error {
	var err error
	for range 3 {
		var cur *unstructured.Unstructured
		if cur, err = ri.Get(ctx, manifest.GetName(), metav1.GetOptions{}); err != nil {
			break
		}
		var patch []byte
		patch, err = csaupgrade.UpgradeManagedFieldsPatch(cur, sets.New(FieldManager), FieldManager)
		if err != nil || patch == nil {
			break
		}
		if _, err = ri.Patch(ctx, manifest.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{}); err == nil {
			metrics.MemberWrites.WithLabelValues(mc.name, "patch", "success").Inc()
			return nil
		}
		if !apierrors.IsConflict(err) {
			break
		}
	}
	if err != nil {
		metrics.MemberWrites.WithLabelValues(mc.name, "patch", "error").Inc()
		return fmt.Errorf("move the fields of Flotilla's create of %s %s in cluster %s to its apply entry: %w",
			manifest.GetKind(), objectName(manifest), mc.name, err)
	}
	return nil
}

func objectName(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

type resourceClient interface {
	Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, subresources ...string) (*unstructured.Unstructured, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions, subresources ...string) (*unstructured.Unstructured, error)
	Apply(ctx context.Context, name string, obj *unstructured.Unstructured, opts metav1.ApplyOptions, subresources ...string) (*unstructured.Unstructured, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions, subresources ...string) error
}

func resourceFor(mc *memberClient, m Mapping, namespace string) resourceClient {
	if m.Namespaced {
		return mc.dynamic.Resource(m.GVR).Namespace(namespace)
	}
	return mc.dynamic.Resource(m.GVR)
}

// ensureNamespace creates a namespace in the member if it is missing.
func (e *Execution) ensureNamespace(ctx context.Context, mc *memberClient, ns string) error {
	if _, ok := mc.namespaces.Load(ns); ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, memberRequestTimeout)
	defer cancel()
	created, err := workload.CreateNamespace(ctx, mc.dynamic, ns, FieldManager)
	if created {
		metrics.MemberWrites.WithLabelValues(mc.name, "create", "success").Inc()
	}
	if err != nil {
		return fmt.Errorf("ensure namespace %s in cluster %s: %w", ns, mc.name, err)
	}
	mc.namespaces.Store(ns, true)
	return nil
}

// removeLeft deletes the binding's objects from clusters that are no
// longer in its placement, unless the policy preserves them. It returns a
// status for each cluster that could not be cleaned yet, and when to look
// again for a cluster being evicted.
//
// A cluster the scheduler evicted (spec.evictions) keeps its objects until
// the replicas replacing them are healthy everywhere (healthy), or until
// the eviction's deadline: failover never leaves a gap it can avoid.
func (e *Execution) removeLeft(ctx context.Context, b workv1alpha1.Binding, m Mapping, targets []target,
	byName map[string]*clusterv1alpha1.Cluster, healthy bool) ([]workv1alpha1.ClusterStatus, time.Duration, error) {
	keep := map[string]bool{}
	for _, t := range targets {
		keep[t.name] = true
	}
	var out []workv1alpha1.ClusterStatus
	var firstErr error
	var wait time.Duration
	now := time.Now()
	for _, prev := range b.GetBindingStatus().Clusters {
		if keep[prev.Cluster] {
			continue
		}
		keep[prev.Cluster] = true
		ev := evictionOf(b.GetSpec().Evictions, prev.Cluster)
		if c := byName[prev.Cluster]; ev != nil && c != nil && ready(c) {
			// A cluster just back from a failure: the scheduler may give
			// it its templates again (a Duplicated placement does). Wait
			// for that decision rather than delete and recreate.
			if at := readySince(c).Add(recoveredHold); now.Before(at) {
				out = append(out, prev)
				if d := at.Sub(now); wait == 0 || d < wait {
					wait = d
				}
				continue
			}
		}
		if ev != nil && !healthy && now.Before(ev.Deadline.Time) && prev.Reason != reasonRemoving {
			kept := prev
			kept.Reason = reasonEvicting
			kept.Message = fmt.Sprintf("kept until the replicas replacing it are healthy, at most until %s: %s",
				ev.Deadline.UTC().Format(time.RFC3339), ev.Message)
			out = append(out, kept)
			if d := ev.Deadline.Sub(now); wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		if err := e.removeFrom(ctx, b, m, prev, byName[prev.Cluster], true); err != nil {
			out = append(out, workv1alpha1.ClusterStatus{Cluster: prev.Cluster, Reason: reasonRemoving, Message: err.Error(),
				Health: workv1alpha1.HealthUnknown, Dependencies: prev.Dependencies})
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	// Objects in clusters the status forgot (a hub restart mid-way).
	for _, mc := range e.p.members.all() {
		if keep[mc.name] || len(mc.owned(m.GVR, string(b.GetUID()))) == 0 {
			continue
		}
		if err := e.removeFrom(ctx, b, m, workv1alpha1.ClusterStatus{Cluster: mc.name}, byName[mc.name], true); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, wait, firstErr
}

// recoveredHold is how long a cluster back from a failure keeps the
// objects of templates that moved away, for the scheduler to decide
// whether they come back.
const recoveredHold = 5 * time.Second

// readySince is when c's Ready condition last turned True.
func readySince(c *clusterv1alpha1.Cluster) time.Time {
	if cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady); cond != nil {
		return cond.LastTransitionTime.Time
	}
	return time.Time{}
}

// evictionOf is the eviction of cluster in es, or nil.
func evictionOf(es []workv1alpha1.Eviction, cluster string) *workv1alpha1.Eviction {
	for i := range es {
		if es[i].Cluster == cluster {
			return &es[i]
		}
	}
	return nil
}

// removeFrom deletes the binding's objects, and the dependencies no other
// binding needs there, from one cluster. With announce, it records a
// Removed event on the binding; finalize does not, because the binding goes
// too (and in a namespace being deleted the hub refuses new events).
func (e *Execution) removeFrom(ctx context.Context, b workv1alpha1.Binding, m Mapping, prev workv1alpha1.ClusterStatus, c *clusterv1alpha1.Cluster, announce bool) error {
	if c == nil {
		// The cluster left the fleet (unjoin leaves its objects running).
		return nil
	}
	if suspended(b.GetSpec().Suspension, c.Name) {
		return nil
	}
	if c.Spec.SyncMode == clusterv1alpha1.Pull {
		// Its agent removes the objects when their Work goes, or, when
		// the work says to preserve them, stops managing them.
		return e.removeWork(ctx, b, c)
	}
	if b.GetSpec().PreserveResourcesOnDeletion {
		return nil
	}
	if !ready(c) {
		return &clusterError{notReady: true, err: fmt.Errorf("cluster %s is not Ready; its objects are removed when it is back", c.Name)}
	}
	fail := func(err error) error { return &clusterError{err: err} }
	mc, err := e.p.members.get(ctx, e.p.client, c)
	if err != nil {
		return fail(err)
	}
	inf, err := mc.informers.get(m)
	if err != nil {
		return fail(err)
	}
	if err := mc.informers.synced(m, inf); err != nil {
		return fail(fmt.Errorf("cluster %s: %w", c.Name, err))
	}
	for _, o := range mc.owned(m.GVR, string(b.GetUID())) {
		if err := e.deleteObject(ctx, mc, m, o); err != nil {
			return fail(err)
		}
	}
	for _, d := range prev.Dependencies {
		kind, name, _ := strings.Cut(d, "/")
		if e.depNeeded(ctx, b, c.Name, kind, name) {
			continue
		}
		dm, err := e.p.mapper.Map(schema.GroupVersionKind{Version: "v1", Kind: kind})
		if err != nil {
			return fail(err)
		}
		dinf, err := mc.informers.get(dm)
		if err != nil {
			return fail(err)
		}
		if err := mc.informers.synced(dm, dinf); err != nil {
			return fail(fmt.Errorf("cluster %s: %w", c.Name, err))
		}
		o, _ := objectFrom(dinf, b.GetSpec().Resource.Namespace, name)
		if o == nil || o.GetLabels()[workv1alpha1.LabelDependency] == "" {
			// Gone already, or propagated as a template of its own.
			continue
		}
		if err := e.deleteObject(ctx, mc, dm, o); err != nil {
			return fail(err)
		}
	}
	if announce {
		e.p.recorder.Eventf(b, nil, corev1.EventTypeNormal, "Removed", "Delete", "removed from cluster %s", c.Name)
	}
	return nil
}

// clusterError is a failure to clean up one cluster; notReady says the
// cluster is down rather than refusing.
type clusterError struct {
	notReady bool
	err      error
}

func (e *clusterError) Error() string { return e.err.Error() }

// depNeeded reports whether another binding that targets cluster carries
// the dependency kind/name of b's namespace.
func (e *Execution) depNeeded(ctx context.Context, b workv1alpha1.Binding, cluster, kind, name string) bool {
	e.mu.Lock()
	var others []bindingKey
	for k := range e.deps[b.GetNamespace()+"/"+kind+"/"+name] {
		if k != keyOf(b) {
			others = append(others, k)
		}
	}
	e.mu.Unlock()
	for _, k := range others {
		var o workv1alpha1.ResourceBinding
		if err := e.p.client.Get(ctx, types.NamespacedName{Namespace: k.Namespace, Name: k.Name}, &o); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return true
		}
		if !o.DeletionTimestamp.IsZero() {
			continue
		}
		for _, c := range o.Spec.Clusters {
			if c.Name == cluster {
				return true
			}
		}
	}
	return false
}

// finalize removes a deleted binding's objects from every member, then
// lets the binding go.
func (e *Execution) finalize(ctx context.Context, b workv1alpha1.Binding, m Mapping, byName map[string]*clusterv1alpha1.Cluster) (time.Duration, error) {
	if !controllerutilContains(b.GetFinalizers(), workv1alpha1.FinalizerCleanup) {
		return 0, nil
	}
	if e.cleanedUp(b) {
		return 0, nil
	}
	e.indexDeps(keyOf(b), nil)
	seen := map[string]bool{}
	var firstErr error
	// blocking is set by a failure on a cluster that is up: the finalizer
	// stays until it is fixed.
	blocking := false
	note := func(err error) {
		if err == nil {
			return
		}
		var ce *clusterError
		up := !errors.As(err, &ce) || !ce.notReady
		if firstErr == nil || (up && !blocking) {
			firstErr = err
		}
		blocking = blocking || up
	}
	for _, cs := range b.GetBindingStatus().Clusters {
		seen[cs.Cluster] = true
		note(e.removeFrom(ctx, b, m, cs, byName[cs.Cluster], false))
	}
	for _, tc := range b.GetSpec().Clusters {
		if !seen[tc.Name] {
			seen[tc.Name] = true
			note(e.removeFrom(ctx, b, m, workv1alpha1.ClusterStatus{Cluster: tc.Name}, byName[tc.Name], false))
		}
	}
	if firstErr != nil {
		if !blocking {
			// Do not hold the template's deletion hostage to clusters that
			// are down; say what was left behind.
			e.p.recorder.Eventf(b, nil, corev1.EventTypeWarning, "CleanupIncomplete", "Delete", "%v", firstErr)
		} else {
			return 0, firstErr
		}
	}
	return 0, e.removeFinalizer(ctx, b)
}

func controllerutilContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (e *Execution) removeFinalizer(ctx context.Context, b workv1alpha1.Binding) error {
	orig := b.DeepCopyObject().(client.Object)
	var keep []string
	for _, f := range b.GetFinalizers() {
		if f != workv1alpha1.FinalizerCleanup {
			keep = append(keep, f)
		}
	}
	b.SetFinalizers(keep)
	if err := e.p.client.Patch(ctx, b, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !b.GetDeletionTimestamp().IsZero() {
		e.finalized.Store(b.GetUID(), struct{}{})
	}
	return nil
}

// writeStatus applies the binding's per-cluster results and its Applied and
// Healthy conditions, when they changed.
func (e *Execution) writeStatus(ctx context.Context, b workv1alpha1.Binding, results []workv1alpha1.ClusterStatus) error {
	st := b.GetBindingStatus()
	conds := append([]metav1.Condition(nil), st.Conditions...)
	gen := b.GetGeneration()
	meta.SetStatusCondition(&conds, appliedCondition(results, gen))
	meta.SetStatusCondition(&conds, healthyCondition(results, gen))
	mine := make([]metav1.Condition, 0, 2)
	for _, c := range conds {
		if c.Type == workv1alpha1.ConditionApplied || c.Type == workv1alpha1.ConditionHealthy {
			mine = append(mine, c)
		}
	}
	if apiequality.Semantic.DeepEqual(st.Clusters, results) && conditionsEqual(st.Conditions, mine) {
		return nil
	}
	if results == nil {
		results = []workv1alpha1.ClusterStatus{}
	}
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&struct {
		Conditions []metav1.Condition           `json:"conditions"`
		Clusters   []workv1alpha1.ClusterStatus `json:"clusters"`
	}{mine, results})
	if err != nil {
		return err
	}
	u := workv1alpha1.StatusApplyObject(b, status)
	gvr := workv1alpha1.GroupVersion.WithResource("resourcebindings")
	ri := e.p.dynamic.Resource(gvr).Namespace(b.GetNamespace())
	if u.GetKind() == "ClusterResourceBinding" {
		ri = e.p.dynamic.Resource(workv1alpha1.GroupVersion.WithResource("clusterresourcebindings")).Namespace("")
	}
	_, err = ri.ApplyStatus(ctx, b.GetName(), u, metav1.ApplyOptions{FieldManager: StatusFieldManager, Force: true})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func conditionsEqual(have, mine []metav1.Condition) bool {
	for _, m := range mine {
		h := meta.FindStatusCondition(have, m.Type)
		if h == nil || h.Status != m.Status || h.Reason != m.Reason || h.Message != m.Message || h.ObservedGeneration != m.ObservedGeneration {
			return false
		}
	}
	return true
}

func appliedCondition(results []workv1alpha1.ClusterStatus, gen int64) metav1.Condition {
	c := metav1.Condition{Type: workv1alpha1.ConditionApplied, ObservedGeneration: gen}
	if len(results) == 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, workv1alpha1.ReasonPending, "no cluster is scheduled yet"
		return c
	}
	var bad []string
	reason := workv1alpha1.ReasonApplied
	applied := 0
	for _, r := range results {
		if r.Applied && r.Reason == workv1alpha1.ReasonApplied {
			applied++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s: %s", r.Cluster, r.Message))
		if reason == workv1alpha1.ReasonApplied || r.Reason == workv1alpha1.ReasonConflict {
			reason = r.Reason
		}
	}
	if len(bad) == 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, workv1alpha1.ReasonApplied, fmt.Sprintf("applied to %d of %d clusters", applied, len(results))
		return c
	}
	c.Status, c.Reason = metav1.ConditionFalse, reason
	c.Message = fmt.Sprintf("applied to %d of %d clusters; %s", applied, len(results), strings.Join(bad, "; "))
	if len(c.Message) > 32000 {
		c.Message = c.Message[:32000]
	}
	return c
}

func healthyCondition(results []workv1alpha1.ClusterStatus, gen int64) metav1.Condition {
	c := metav1.Condition{Type: workv1alpha1.ConditionHealthy, ObservedGeneration: gen, Status: metav1.ConditionTrue, Reason: workv1alpha1.HealthHealthy}
	var bad []string
	for _, r := range results {
		if r.Health != workv1alpha1.HealthHealthy {
			bad = append(bad, r.Cluster+": "+r.Health)
		}
	}
	switch {
	case len(results) == 0:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, workv1alpha1.ReasonPending, "no cluster is scheduled yet"
	case len(bad) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, workv1alpha1.HealthUnhealthy, strings.Join(bad, "; ")
	default:
		c.Message = fmt.Sprintf("healthy in all %d clusters", len(results))
	}
	return c
}

// aggregate writes the clusters' summed status onto a workload template,
// when it changed. Only status is written, so it never fights the
// template's spec.
func (e *Execution) aggregate(ctx context.Context, m Mapping, tmpl *unstructured.Unstructured, results []workv1alpha1.ClusterStatus) error {
	// The template's observedGeneration moves only when every member runs
	// its current manifest and has acted on it, so that a rollout watched
	// on the hub does not look finished before it starts.
	current := len(results) > 0
	for _, r := range results {
		current = current && r.Applied && r.Reason == workv1alpha1.ReasonApplied && r.ObservedGeneration >= r.Generation
	}
	sum := aggregate(tmpl.GetAPIVersion(), tmpl.GetKind(), tmpl.GetGeneration(), current, results, func(cs workv1alpha1.ClusterStatus) map[string]any {
		if cs.Status == nil {
			return nil
		}
		var out map[string]any
		_ = json.Unmarshal(cs.Status.Raw, &out)
		return out
	})
	if sum == nil {
		return nil
	}
	cur, _, _ := unstructured.NestedMap(tmpl.Object, "status")
	changed := false
	for k, v := range sum {
		if n, _ := workload.Number(v); true {
			h, ok := workload.Number(cur[k])
			if !ok && n == 0 {
				continue
			}
			if !ok || h != n {
				changed = true
				break
			}
		}
	}
	if !changed {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"status": sum})
	var err error
	if m.Namespaced {
		_, err = e.p.dynamic.Resource(m.GVR).Namespace(tmpl.GetNamespace()).Patch(ctx, tmpl.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: StatusFieldManager}, "status")
	} else {
		_, err = e.p.dynamic.Resource(m.GVR).Patch(ctx, tmpl.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: StatusFieldManager}, "status")
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteObject deletes o from the member, only if it is still the very
// object the cache saw (same UID), so that an object someone created since
// under the same name is never touched.
func (e *Execution) deleteObject(ctx context.Context, mc *memberClient, m Mapping, o *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, memberRequestTimeout)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	uid := o.GetUID()
	err := resourceFor(mc, m, o.GetNamespace()).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		metrics.MemberWrites.WithLabelValues(mc.name, "delete", "success").Inc()
		return nil
	case apierrors.IsConflict(err):
		// Replaced by someone else's object: not ours to delete.
		return nil
	default:
		metrics.MemberWrites.WithLabelValues(mc.name, "delete", "error").Inc()
		return fmt.Errorf("delete %s %s from cluster %s: %w", m.GVK.Kind, objectName(o), mc.name, err)
	}
}
