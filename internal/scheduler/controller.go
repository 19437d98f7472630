package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// DefaultWorkers is how many bindings of each kind are scheduled at once.
const DefaultWorkers = 8

// conflictRetry is the wait before deciding again on a binding whose write
// conflicted.
const conflictRetry = 250 * time.Millisecond

// Limits of what a binding records, from the API's validation.
const (
	maxDecisions     = 1000
	maxMessageLength = 4096
)

// Reconciler schedules ResourceBindings and ClusterResourceBindings: it
// writes Schedule's decision to spec.clusters and its reasons to status.
type Reconciler struct {
	client   client.Client
	recorder events.EventRecorder
	workers  int
	clock    clock.PassiveClock
	failover FailoverOptions
	// evictions limits evictions fleet-wide; reservations are the turns
	// of the bindings waiting for it.
	evictions    *rate.Limiter
	mu           sync.Mutex
	reservations map[types.NamespacedName]*rate.Reservation
	// deferStatus, when set, says the hub is busy (WithDeferStatus);
	// deferred holds the bindings whose record waits for it.
	deferStatus func() bool
	deferred    *deferredRecords
}

// FailoverOptions are the hub's failover settings.
type FailoverOptions struct {
	// ClusterToleration is how long templates stay on a cluster that is not
	// Ready when their policy does not say.
	ClusterToleration time.Duration
	// EvictionRate is how many templates per second may leave failed
	// clusters, fleet-wide; EvictionBurst how many at once.
	EvictionRate  float64
	EvictionBurst int
}

// DefaultFailoverOptions are the hub's defaults.
func DefaultFailoverOptions() FailoverOptions {
	return FailoverOptions{ClusterToleration: DefaultClusterToleration, EvictionRate: 10, EvictionBurst: 20}
}

// defaultGracePeriod is how long a left cluster's objects wait for their
// replacements to be healthy when the policy does not say.
const defaultGracePeriod = 600 * time.Second

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithWorkers sets how many bindings of each kind are scheduled at once.
func WithWorkers(n int) Option { return func(r *Reconciler) { r.workers = n } }

// WithFailover sets the failover settings.
func WithFailover(o FailoverOptions) Option { return func(r *Reconciler) { r.failover = o } }

// WithDeferStatus lets the scheduler put off recording a decision that
// changes nothing, for a binding created already placed, while busy
// reports true, for at most maxStatusDefer after the binding's creation:
// during a burst the hub's writes go to getting objects to the members
// first.
func WithDeferStatus(busy func() bool) Option { return func(r *Reconciler) { r.deferStatus = busy } }

// maxStatusDefer bounds how long a binding waits for its Scheduled
// condition while the hub is busy.
const maxStatusDefer = time.Minute

// WithClock sets the clock, for tests.
func WithClock(c clock.PassiveClock) Option { return func(r *Reconciler) { r.clock = c } }

// NewReconciler returns a Reconciler that reads and writes through c and
// records events on bindings with recorder.
func NewReconciler(c client.Client, recorder events.EventRecorder, opts ...Option) *Reconciler {
	r := &Reconciler{client: c, recorder: recorder, workers: DefaultWorkers, clock: clock.RealClock{}, failover: DefaultFailoverOptions(),
		reservations: map[types.NamespacedName]*rate.Reservation{}, deferred: newDeferredRecords()}
	for _, f := range opts {
		f(r)
	}
	r.evictions = rate.NewLimiter(rate.Limit(r.failover.EvictionRate), max(r.failover.EvictionBurst, 1))
	return r
}

// SetupWithManager registers two controllers, one per binding kind. Each
// watches its bindings (spec changes only: the scheduler's own status
// writes do not wake it; a binding created placed a moment late, see
// bindingEvents) and the Clusters.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	changed := builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, healthChanged{}))
	err := ctrl.NewControllerManagedBy(mgr).
		Named("scheduler").
		Watches(&workv1alpha1.ResourceBinding{}, &bindingEvents{delay: r.deferStatus != nil}, changed).
		Watches(&clusterv1alpha1.Cluster{}, r.clusterEvents(r.resourceBindings)).
		WatchesRawSource(source.Channel(r.deferred.channel(true), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.workers}).
		Complete(r)
	if err != nil {
		return err
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("cluster-scheduler").
		Watches(&workv1alpha1.ClusterResourceBinding{}, &bindingEvents{delay: r.deferStatus != nil}, changed).
		Watches(&clusterv1alpha1.Cluster{}, r.clusterEvents(r.clusterResourceBindings)).
		WatchesRawSource(source.Channel(r.deferred.channel(false), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.workers}).
		Complete(r)
	if err != nil || r.deferStatus == nil {
		return err
	}
	return mgr.Add(releaser{r})
}

// +kubebuilder:rbac:groups=work.flotilla.io,resources=resourcebindings;clusterresourcebindings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=work.flotilla.io,resources=resourcebindings/status;clusterresourcebindings/status,verbs=update;patch
// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile schedules one binding: a ResourceBinding when the request has a
// namespace, a ClusterResourceBinding when it has none. It decides only when
// the binding's spec changed since the last decision, when the eligible
// clusters changed (the Inputs fingerprint), or when the last attempt
// failed; and it writes only what changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := workv1alpha1.NewBinding(req.Namespace != "")
	if err := r.client.Get(ctx, req.NamespacedName, b); err != nil {
		if apierrors.IsNotFound(err) {
			r.deferred.held.Forget(deferredKey{namespaced: req.Namespace != "", key: req.NamespacedName})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, nil
	}
	var cl clusterv1alpha1.ClusterList
	// Schedule only reads the clusters: no need to copy the cache.
	if err := r.client.List(ctx, &cl, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list clusters: %w", err)
	}
	now := r.clock.Now()
	st := b.GetBindingStatus()
	res, err := ScheduleWith(b.GetSpec(), cl.Items, b.GetSpec().Clusters, Options{
		Now:               now,
		DefaultToleration: r.failover.ClusterToleration,
		// A change of the binding (its template, its policy, a rebalance
		// request) decides afresh; a change of the clusters alone keeps
		// what still works.
		Sticky:         sticky(b),
		UnhealthySince: unhealthySince(st),
	})
	var nf *NoFitError
	if err != nil && !errors.As(err, &nf) {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	evictions, evictionsDue := pruneEvictions(b.GetSpec().Evictions, res.Clusters, now)
	if !needsScheduling(b, res.Inputs) && !evictionsDue {
		return ctrl.Result{RequeueAfter: requeue(res.RequeueAfter, evictions, now)}, nil
	}
	if nf != nil {
		// Cluster events, capacity freed included, bring the binding
		// back; the clusters it runs on now are kept meanwhile.
		r.dropReservation(req.NamespacedName)
		err = nil
		if evictionsDue {
			err = r.writeEvictions(ctx, b, evictions)
		}
		if err == nil {
			err = r.recordNoFit(ctx, b, res, nf)
		}
	} else {
		var wait time.Duration
		wait, err = r.apply(ctx, b, res, evictions, now)
		if wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	if apierrors.IsConflict(err) {
		// The binding changed under the decision, or the cache is behind
		// the scheduler's own last write: decide again on a fresh read.
		ctrl.LoggerFrom(ctx).V(1).Info("binding changed while scheduling; retrying", "error", err.Error())
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue(res.RequeueAfter, b.GetSpec().Evictions, now)}, nil
}

// sticky says whether only the clusters changed since b's last decision,
// so that a placement that still works is kept: b's spec, apart from the
// scheduler's own fields, is the one the decision was made on.
func sticky(b workv1alpha1.Binding) bool {
	st := b.GetBindingStatus()
	if meta.FindStatusCondition(st.Conditions, workv1alpha1.ConditionScheduled) == nil {
		// Never recorded: sticky only to the placement the detector wrote
		// into a binding whose spec has not changed since (generation 1),
		// whose record may wait for a burst to pass (WithDeferStatus).
		return b.GetGeneration() == 1 && len(b.GetSpec().Clusters) > 0
	}
	if st.SchedulerObservedSpec == "" {
		// Decided by an older hub.
		return b.GetGeneration() == st.SchedulerObservedGeneration
	}
	return st.SchedulerObservedSpec == specFingerprint(b.GetSpec())
}

// specFingerprint hashes spec without the scheduler's own fields.
func specFingerprint(spec *workv1alpha1.BindingSpec) string {
	s := *spec
	s.Clusters, s.Evictions = nil, nil
	data, _ := json.Marshal(&s)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// writeEvictions writes spec.evictions alone.
func (r *Reconciler) writeEvictions(ctx context.Context, b workv1alpha1.Binding, evictions []workv1alpha1.Eviction) error {
	before := b.DeepCopyObject().(client.Object)
	b.GetSpec().Evictions = evictions
	if err := r.client.Patch(ctx, b, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("write spec.evictions: %w", err)
	}
	return nil
}

// unhealthySince reads, from a binding's status, since when the template
// has been unhealthy in each cluster where it is.
func unhealthySince(st *workv1alpha1.BindingStatus) map[string]time.Time {
	var out map[string]time.Time
	for _, c := range st.Clusters {
		if c.Health == workv1alpha1.HealthUnhealthy && c.HealthTransitionTime != nil {
			if out == nil {
				out = map[string]time.Time{}
			}
			out[c.Cluster] = c.HealthTransitionTime.Time
		}
	}
	return out
}

// pruneEvictions drops the evictions whose deadline passed and those of
// clusters chosen again. due says whether any was dropped.
func pruneEvictions(es []workv1alpha1.Eviction, chosen []workv1alpha1.TargetCluster, now time.Time) (out []workv1alpha1.Eviction, due bool) {
	for _, e := range es {
		if !now.Before(e.Deadline.Time) || slices.ContainsFunc(chosen, func(t workv1alpha1.TargetCluster) bool { return t.Name == e.Cluster }) {
			due = true
			continue
		}
		out = append(out, e)
	}
	return out, due
}

// requeue is the sooner of after and the first eviction deadline; zero
// when neither is set.
func requeue(after time.Duration, es []workv1alpha1.Eviction, now time.Time) time.Duration {
	for _, e := range es {
		d := max(e.Deadline.Sub(now), time.Second)
		if after == 0 || d < after {
			after = d
		}
	}
	return after
}

// healthChanged passes binding updates that change a cluster's health:
// application failover acts on them.
type healthChanged struct{ predicate.Funcs }

func (healthChanged) Update(e event.UpdateEvent) bool {
	old, okOld := e.ObjectOld.(workv1alpha1.Binding)
	cur, okNew := e.ObjectNew.(workv1alpha1.Binding)
	if !okOld || !okNew {
		return false
	}
	if fo := cur.GetSpec().Failover; fo == nil || fo.Application == nil {
		return false
	}
	health := func(b workv1alpha1.Binding) map[string]string {
		m := map[string]string{}
		for _, c := range b.GetBindingStatus().Clusters {
			m[c.Cluster] = c.Health
		}
		return m
	}
	return !maps.Equal(health(old), health(cur))
}

// needsScheduling reports whether b must be decided again: its spec
// changed, the eligible clusters changed, or it is not scheduled.
func needsScheduling(b workv1alpha1.Binding, inputs string) bool {
	st := b.GetBindingStatus()
	return b.GetGeneration() != st.SchedulerObservedGeneration ||
		inputs != st.SchedulingInputs ||
		!meta.IsStatusConditionTrue(st.Conditions, workv1alpha1.ConditionScheduled)
}

// apply writes a successful decision: spec.clusters and spec.evictions
// first (which bumps the generation), then the status that records that
// generation as observed. Evictions take a token from the fleet-wide
// limiter; without one apply writes nothing and returns how long to wait.
func (r *Reconciler) apply(ctx context.Context, b workv1alpha1.Binding, res Result, evictions []workv1alpha1.Eviction, now time.Time) (time.Duration, error) {
	log := ctrl.LoggerFrom(ctx)
	spec := b.GetSpec()
	moved := !slices.Equal(spec.Clusters, res.Clusters)
	key := client.ObjectKeyFromObject(b)
	if !moved || len(res.Evicted) == 0 {
		r.dropReservation(key)
	}
	if moved && len(res.Evicted) > 0 {
		if d := r.evictionDelay(key, now); d > 0 {
			metrics.EvictionsThrottled.Inc()
			log.V(1).Info("eviction postponed by the fleet-wide rate limit", "binding", klog.KObj(b), "after", d)
			return d, nil
		}
		running := make(map[string]int32, len(spec.Clusters))
		for _, t := range spec.Clusters {
			running[t.Name] = t.Replicas
		}
		grace := defaultGracePeriod
		if fo := spec.Failover; fo != nil && fo.GracePeriodSeconds != nil {
			grace = time.Duration(*fo.GracePeriodSeconds) * time.Second
		}
		for _, e := range res.Evicted {
			evictions = slices.DeleteFunc(evictions, func(x workv1alpha1.Eviction) bool { return x.Cluster == e.Cluster })
			evictions = append(evictions, workv1alpha1.Eviction{
				Cluster: e.Cluster, Replicas: running[e.Cluster], Reason: e.Reason, Message: truncate(e.Message, 1024),
				CreationTimestamp: metav1.NewTime(now), Deadline: metav1.NewTime(now.Add(grace)),
			})
		}
		slices.SortFunc(evictions, func(a, b workv1alpha1.Eviction) int { return strings.Compare(a.Cluster, b.Cluster) })
	}
	if moved || !apiequality.Semantic.DeepEqual(spec.Evictions, evictions) {
		before := b.DeepCopyObject().(client.Object)
		spec.Clusters, spec.Evictions = res.Clusters, evictions
		// The lock makes a decision taken on an older spec fail rather
		// than overwrite a newer one; the retry decides again.
		if err := r.client.Patch(ctx, b, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return 0, fmt.Errorf("write spec.clusters: %w", err)
		}
	}
	if !moved && r.deferStatus != nil && meta.FindStatusCondition(b.GetBindingStatus().Conditions, workv1alpha1.ConditionScheduled) == nil &&
		now.Sub(b.GetCreationTimestamp().Time) < maxStatusDefer &&
		r.deferred.held.Hold(deferredKey{namespaced: b.GetNamespace() != "", key: key}, r.deferStatus(), now) {
		// Placed at creation, by this very decision: only the record of
		// it is missing, and it can wait for the burst to pass, parked
		// until the releaser gives it back.
		return 0, nil
	}
	msg := scheduledMessage(res)
	became, err := r.writeStatus(ctx, b, res, metav1.Condition{
		Type: workv1alpha1.ConditionScheduled, Status: metav1.ConditionTrue, Reason: workv1alpha1.ReasonScheduled, Message: msg})
	if err != nil {
		return 0, err
	}
	if moved {
		for _, e := range res.Evicted {
			metrics.Evictions.WithLabelValues(e.Cluster, e.Reason).Inc()
			r.recorder.Eventf(b, nil, corev1.EventTypeWarning, "Evicted", "Failover", "moving away from cluster %s: %s", e.Cluster, e.Message)
		}
	}
	if moved || became {
		log.V(2).Info("scheduled", "binding", klog.KObj(b), "clusters", res.Clusters, "affinityName", res.AffinityName)
		r.recorder.Eventf(b, nil, corev1.EventTypeNormal, workv1alpha1.ReasonScheduled, "Schedule", "%s", msg)
	}
	return 0, nil
}

// evictionDelay takes the binding's turn in the fleet-wide eviction limit:
// zero when it may evict now, else how long to wait. A binding keeps its
// reservation while it waits, so that waiting bindings go in order rather
// than race for each token.
func (r *Reconciler) evictionDelay(key types.NamespacedName, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	rv, ok := r.reservations[key]
	if !ok {
		rv = r.evictions.ReserveN(now, 1)
		if !rv.OK() {
			return time.Second
		}
		r.reservations[key] = rv
	}
	if d := rv.DelayFrom(now); d > 0 {
		return d
	}
	delete(r.reservations, key)
	return 0
}

// dropReservation gives back the eviction turn of a binding that no
// longer needs it.
func (r *Reconciler) dropReservation(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rv, ok := r.reservations[key]; ok {
		rv.Cancel()
		delete(r.reservations, key)
	}
}

// recordNoFit records a failed decision. spec.clusters is left alone, so
// that a workload is not taken down because it cannot be placed again.
func (r *Reconciler) recordNoFit(ctx context.Context, b workv1alpha1.Binding, res Result, nf *NoFitError) error {
	msg := nf.Error()
	reason := workv1alpha1.ReasonNoClusterFits
	if len(res.Evicted) > 0 {
		// Failover with nowhere to go: the replicas stay where they are.
		names := make([]string, len(res.Evicted))
		for i, e := range res.Evicted {
			names[i] = e.Cluster
		}
		reason = workv1alpha1.ReasonFailoverBlocked
		msg = fmt.Sprintf("failover blocked: the replicas in %s should move (%s), but no other cluster can take them, so nothing is deleted: %s",
			strings.Join(names, ", "), res.Evicted[0].Message, msg)
	}
	msg = truncate(msg, maxMessageLength)
	res.AffinityName = b.GetBindingStatus().SchedulerObservedAffinityName
	became, err := r.writeStatus(ctx, b, res, metav1.Condition{
		Type: workv1alpha1.ConditionScheduled, Status: metav1.ConditionFalse, Reason: reason, Message: msg})
	if err != nil {
		return err
	}
	if became {
		r.recorder.Eventf(b, nil, corev1.EventTypeWarning, reason, "Schedule", "%s", msg)
	}
	return nil
}

// writeStatus records res and cond in b's status, and writes it only if it
// changed. It reports whether the Scheduled condition changed.
func (r *Reconciler) writeStatus(ctx context.Context, b workv1alpha1.Binding, res Result, cond metav1.Condition) (bool, error) {
	st := b.GetBindingStatus()
	orig := st.DeepCopy()
	cond.ObservedGeneration = b.GetGeneration()
	st.SchedulerObservedGeneration = b.GetGeneration()
	st.SchedulerObservedSpec = specFingerprint(b.GetSpec())
	st.SchedulingInputs = res.Inputs
	st.SchedulerObservedAffinityName = res.AffinityName
	st.Decisions = capDecisions(res.Decisions)
	meta.SetStatusCondition(&st.Conditions, cond)
	if apiequality.Semantic.DeepEqual(orig, st) {
		return false, nil
	}
	prev := meta.FindStatusCondition(orig.Conditions, cond.Type)
	became := prev == nil || prev.Status != cond.Status || prev.Message != cond.Message
	// Server-side apply of the scheduler's own fields only: the execution
	// writes its conditions and cluster results concurrently, and neither
	// has to retry on the other's write.
	mine := struct {
		SchedulerObservedGeneration   int64                          `json:"schedulerObservedGeneration"`
		SchedulerObservedSpec         string                         `json:"schedulerObservedSpec"`
		SchedulingInputs              string                         `json:"schedulingInputs"`
		SchedulerObservedAffinityName string                         `json:"schedulerObservedAffinityName,omitempty"`
		Decisions                     []workv1alpha1.ClusterDecision `json:"decisions"`
		Conditions                    []metav1.Condition             `json:"conditions"`
	}{st.SchedulerObservedGeneration, st.SchedulerObservedSpec, st.SchedulingInputs, st.SchedulerObservedAffinityName, st.Decisions,
		[]metav1.Condition{*meta.FindStatusCondition(st.Conditions, cond.Type)}}
	status, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&mine)
	if err != nil {
		return false, err
	}
	u := workv1alpha1.StatusApplyObject(b, status)
	if err := r.client.Status().Patch(ctx, u, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("write scheduling status: %w", err)
	}
	return became, nil
}

// FieldManager is the scheduler's field manager for the bindings' status.
const FieldManager = "flotilla-scheduler"

// scheduledMessage says where the template goes.
func scheduledMessage(res Result) string {
	parts := make([]string, 0, min(len(res.Clusters), maxListed))
	for i, c := range res.Clusters {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(res.Clusters)-maxListed))
			break
		}
		if c.Replicas == 0 {
			parts = append(parts, c.Name)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", c.Name, replicaCount(c.Replicas)))
	}
	msg := fmt.Sprintf("scheduled to %s: %s", clusterCount(len(res.Clusters)), strings.Join(parts, ", "))
	if res.Kept {
		msg += " (the current placement is kept; flotilla rebalance moves replicas to the desired distribution)"
	}
	if res.AffinityName != "" {
		msg += fmt.Sprintf(", with clusterAffinities group %q", res.AffinityName)
	}
	return msg
}

// capDecisions keeps decisions within the API's limit: the chosen clusters
// first, then the others by name.
func capDecisions(ds []workv1alpha1.ClusterDecision) []workv1alpha1.ClusterDecision {
	if len(ds) <= maxDecisions {
		return ds
	}
	out := make([]workv1alpha1.ClusterDecision, 0, maxDecisions)
	for _, d := range ds {
		if d.Chosen && len(out) < maxDecisions {
			out = append(out, d)
		}
	}
	for _, d := range ds {
		if !d.Chosen && len(out) < maxDecisions {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b workv1alpha1.ClusterDecision) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// bindingRef is what a Cluster event needs of a binding.
type bindingRef struct {
	req       reconcile.Request
	scheduled bool
}

func (r *Reconciler) resourceBindings(ctx context.Context) ([]bindingRef, error) {
	var l workv1alpha1.ResourceBindingList
	if err := r.client.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := make([]bindingRef, len(l.Items))
	for i := range l.Items {
		out[i] = refOf(&l.Items[i])
	}
	return out, nil
}

func (r *Reconciler) clusterResourceBindings(ctx context.Context) ([]bindingRef, error) {
	var l workv1alpha1.ClusterResourceBindingList
	if err := r.client.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := make([]bindingRef, len(l.Items))
	for i := range l.Items {
		out[i] = refOf(&l.Items[i])
	}
	return out, nil
}

func refOf(b workv1alpha1.Binding) bindingRef {
	return bindingRef{
		req:       reconcile.Request{NamespacedName: client.ObjectKeyFromObject(b)},
		scheduled: meta.IsStatusConditionTrue(b.GetBindingStatus().Conditions, workv1alpha1.ConditionScheduled),
	}
}

// clusterEvents maps Cluster events to the bindings list returns. A change
// that can alter a decision (labels, spec, readiness, served APIs,
// deletion) wakes every binding, and the Inputs fingerprint keeps the
// unaffected ones as they are; a change of free capacity only wakes the
// bindings that are not scheduled, since capacity alone never moves
// replicas. The initial list of Clusters wakes nothing: the bindings' own
// initial list does.
func (r *Reconciler) clusterEvents(list func(context.Context) ([]bindingRef, error)) handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], onlyUnscheduled bool) {
		refs, err := list(ctx)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "list bindings for a cluster event")
			return
		}
		for _, b := range refs {
			if !onlyUnscheduled || !b.scheduled {
				q.Add(b.req)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !e.IsInInitialList {
				enqueue(ctx, q, false)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			old, okOld := e.ObjectOld.(*clusterv1alpha1.Cluster)
			cur, okNew := e.ObjectNew.(*clusterv1alpha1.Cluster)
			switch {
			case !okOld || !okNew || schedulingChanged(old, cur):
				enqueue(ctx, q, false)
			case !apiequality.Semantic.DeepEqual(old.Status.ResourceSummary, cur.Status.ResourceSummary):
				enqueue(ctx, q, true)
			}
		},
		DeleteFunc: func(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, false)
		},
		GenericFunc: func(ctx context.Context, _ event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, false)
		},
	}
}

// schedulingChanged reports whether a Cluster changed in a way that can
// change which bindings it may take.
func schedulingChanged(old, cur *clusterv1alpha1.Cluster) bool {
	return old.Generation != cur.Generation ||
		!apiequality.Semantic.DeepEqual(old.Spec, cur.Spec) ||
		!apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
		readiness(old) != readiness(cur) ||
		!apiequality.Semantic.DeepEqual(old.Status.APIEnablements, cur.Status.APIEnablements)
}
