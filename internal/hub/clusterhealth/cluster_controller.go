package clusterhealth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// Options tune probing.
type Options struct {
	// ProbeInterval is the time between probes of a healthy cluster.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe.
	ProbeTimeout time.Duration
	// FailureThreshold is how many consecutive failed probes turn Ready False.
	FailureThreshold int32
	// MaxBackoff caps the probe interval of a cluster that is not ready.
	MaxBackoff time.Duration
	// StatusRefresh is how often lastProbeTime is written even when nothing
	// else changed. Other changes are written at once.
	StatusRefresh time.Duration
	// Workers is the number of clusters probed at once.
	Workers int
}

// DefaultOptions are the hub's defaults.
func DefaultOptions() Options {
	return Options{
		ProbeInterval:    10 * time.Second,
		ProbeTimeout:     5 * time.Second,
		FailureThreshold: 3,
		MaxBackoff:       60 * time.Second,
		StatusRefresh:    time.Minute,
		Workers:          16,
	}
}

// Event reasons on Clusters.
const (
	EventClusterReady    = "ClusterReady"
	EventClusterNotReady = "ClusterNotReady"
	EventProbeFailed     = "ProbeFailed"
)

// Reconciler keeps Push clusters' health status.
type Reconciler struct {
	client   client.Client
	recorder events.EventRecorder
	clock    clock.PassiveClock
	opts     Options
	watchers member.Watchers

	// discover lists a member's APIs: member.DiscoverAPIs, replaced in tests.
	discover   func(ctx context.Context, cfg *rest.Config, timeout time.Duration, prev []clusterv1alpha1.APIEnablement) ([]clusterv1alpha1.APIEnablement, error)
	discovered discoveryTimes
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithClock sets the clock, for tests.
func WithClock(c clock.PassiveClock) Option { return func(r *Reconciler) { r.clock = c } }

// NewReconciler returns a Reconciler.
func NewReconciler(c client.Client, recorder events.EventRecorder, o Options, opts ...Option) *Reconciler {
	r := &Reconciler{client: c, recorder: recorder, clock: clock.RealClock{}, opts: o, discover: member.DiscoverAPIs}
	for _, f := range opts {
		f(r)
	}
	return r
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("cluster-health").
		// Status writes do not change the generation: only spec changes and
		// the controller's own requeue trigger a probe.
		For(&clusterv1alpha1.Cluster{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToCluster),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return o.GetNamespace() == member.Namespace && o.GetLabels()[clusterv1alpha1.LabelClusterName] != ""
			}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.Workers}).
		Complete(r)
}

func secretToCluster(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetLabels()[clusterv1alpha1.LabelClusterName]}}}
}

// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",namespace=flotilla-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile probes one cluster and records what it found.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	var c clusterv1alpha1.Cluster
	if err := r.client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.watchers.Forget(req.Name)
			r.discovered.forget(req.Name)
			metrics.ForgetCluster(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !c.DeletionTimestamp.IsZero() || c.Spec.SyncMode == clusterv1alpha1.Pull {
		// Pull clusters report their own health through their agent.
		r.watchers.Forget(c.Name)
		r.discovered.forget(c.Name)
		return ctrl.Result{}, nil
	}

	orig := c.DeepCopy()
	now := metav1.NewTime(r.clock.Now())
	res, cfg, key := r.probe(ctx, &c)
	r.record(&c, res, now)
	if res.Healthy {
		w, err := r.watchers.Get(c.Name, key, cfg, 0)
		if err != nil {
			log.Error(err, "start member informers")
		} else if r.waitSynced(ctx, w) {
			ns, rs := w.Summary()
			c.Status.NodeSummary = &ns
			c.Status.ResourceSummary = &rs
		}
		r.refreshAPIs(ctx, orig, &c, cfg, key)
	}

	if r.statusChanged(orig, &c) {
		if err := r.client.Status().Patch(ctx, &c, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch cluster status: %w", err)
		}
	}
	r.emit(orig, &c, res)
	return ctrl.Result{RequeueAfter: r.next(&c)}, nil
}

// waitSynced gives a new watcher up to ProbeTimeout for its first list, so
// that a newly joined cluster shows its summary with its first Ready.
func (r *Reconciler) waitSynced(ctx context.Context, w *member.Watcher) bool {
	ctx, cancel := context.WithTimeout(ctx, r.opts.ProbeTimeout)
	defer cancel()
	return w.WaitSynced(ctx)
}

// refreshAPIs fills status.apiEnablements from the member's discovery: the
// first time the hub probes the cluster healthy, whenever it turns ready or
// its credentials change, and otherwise once per StatusRefresh. A discovery
// that fails in part keeps what it found; one that fails entirely keeps the
// last known list.
func (r *Reconciler) refreshAPIs(ctx context.Context, orig, c *clusterv1alpha1.Cluster, cfg *rest.Config, key string) {
	now := r.clock.Now()
	wasReady := meta.IsStatusConditionTrue(orig.Status.Conditions, clusterv1alpha1.ConditionReady)
	if wasReady && !r.discovered.due(c.Name, key, now, r.opts.StatusRefresh) {
		return
	}
	r.discovered.mark(c.Name, key, now)
	got, err := r.discover(ctx, cfg, r.opts.ProbeTimeout, c.Status.APIEnablements)
	if err != nil {
		// Partial failures recur while an aggregated API is down: keep
		// them out of the default log.
		ctrl.LoggerFrom(ctx).V(1).Info("api discovery incomplete", "error", err.Error(), "groupVersions", len(got))
	}
	c.Status.APIEnablements = got
}

// probe resolves the cluster's credentials and probes it. key identifies
// the endpoint and credentials, to restart informers when they change.
func (r *Reconciler) probe(ctx context.Context, c *clusterv1alpha1.Cluster) (member.ProbeResult, *rest.Config, string) {
	if c.Spec.SecretRef == nil {
		return member.ProbeResult{Reason: clusterv1alpha1.ReasonCredentialsInvalid, Message: "spec.secretRef is not set"}, nil, ""
	}
	var s corev1.Secret
	key := client.ObjectKey{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}
	if err := r.client.Get(ctx, key, &s); err != nil {
		return member.ProbeResult{Reason: clusterv1alpha1.ReasonCredentialsInvalid,
			Message: fmt.Sprintf("cannot read credentials secret %s: %v", key, err)}, nil, ""
	}
	cfg, err := member.RESTConfig(c, &s)
	if err != nil {
		return member.ProbeResult{Reason: clusterv1alpha1.ReasonCredentialsInvalid, Message: err.Error()}, nil, ""
	}
	res := member.Probe(ctx, cfg, r.opts.ProbeTimeout)
	result := res.Reason
	metrics.ClusterProbeDuration.WithLabelValues(c.Name, result).Observe(res.Latency.Seconds())
	if !res.Healthy {
		metrics.ClusterProbeFailures.WithLabelValues(c.Name, result).Inc()
	}
	return res, cfg, c.Spec.APIEndpoint + "/" + s.ResourceVersion
}

// record folds a probe result into the status.
func (r *Reconciler) record(c *clusterv1alpha1.Cluster, res member.ProbeResult, now metav1.Time) {
	st := &c.Status
	st.LastProbeTime = &now
	if res.Healthy {
		st.ConsecutiveProbeFailures = 0
		ms := res.Latency.Milliseconds()
		st.ProbeLatencyMilliseconds = &ms
		if res.Version != "" {
			st.KubernetesVersion = res.Version
		}
	} else {
		st.ConsecutiveProbeFailures++
	}

	reachable := metav1.Condition{Type: clusterv1alpha1.ConditionReachable, ObservedGeneration: c.Generation}
	switch {
	case res.Reachable:
		reachable.Status, reachable.Reason = metav1.ConditionTrue, clusterv1alpha1.ReasonConnected
		reachable.Message = "the hub reaches the cluster's API server at " + c.Spec.APIEndpoint
	case res.Reason == clusterv1alpha1.ReasonCredentialsInvalid:
		reachable.Status, reachable.Reason, reachable.Message = metav1.ConditionUnknown, res.Reason, res.Message
	default:
		reachable.Status, reachable.Reason, reachable.Message = metav1.ConditionFalse, res.Reason, res.Message
	}
	meta.SetStatusCondition(&st.Conditions, reachable)

	ready := metav1.Condition{Type: clusterv1alpha1.ConditionReady, ObservedGeneration: c.Generation, Reason: res.Reason, Message: res.Message}
	prev := meta.FindStatusCondition(st.Conditions, clusterv1alpha1.ConditionReady)
	switch {
	case res.Healthy:
		ready.Status = metav1.ConditionTrue
	case prev != nil && prev.Status == metav1.ConditionTrue && st.ConsecutiveProbeFailures < r.opts.FailureThreshold:
		// A blip: keep Ready until the threshold, but say what happened.
		ready.Status, ready.Reason = metav1.ConditionTrue, prev.Reason
		ready.Message = fmt.Sprintf("%d of %d allowed probe failures: %s", st.ConsecutiveProbeFailures, r.opts.FailureThreshold-1, res.Message)
	default:
		ready.Status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&st.Conditions, ready)
}

// statusChanged reports whether the status must be written: anything but
// the probe time and latency changed, or the last write is StatusRefresh
// old.
func (r *Reconciler) statusChanged(orig, c *clusterv1alpha1.Cluster) bool {
	a, b := orig.Status.DeepCopy(), c.Status.DeepCopy()
	a.LastProbeTime, b.LastProbeTime = nil, nil
	a.ProbeLatencyMilliseconds, b.ProbeLatencyMilliseconds = nil, nil
	if !apiequality.Semantic.DeepEqual(a, b) {
		return true
	}
	if orig.Status.LastProbeTime == nil {
		return true
	}
	return r.clock.Since(orig.Status.LastProbeTime.Time) >= r.opts.StatusRefresh
}

func (r *Reconciler) emit(orig, c *clusterv1alpha1.Cluster, res member.ProbeResult) {
	before := meta.FindStatusCondition(orig.Status.Conditions, clusterv1alpha1.ConditionReady)
	after := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
	if metrics.RecordClusterReady(c.Name, before, after) {
		if after.Status == metav1.ConditionTrue {
			r.recorder.Eventf(c, nil, corev1.EventTypeNormal, EventClusterReady, "Probe", "cluster is ready: %s", after.Message)
		} else {
			r.recorder.Eventf(c, nil, corev1.EventTypeWarning, EventClusterNotReady, "Probe", "cluster is not ready (%s): %s", after.Reason, after.Message)
		}
		return
	}
	if !res.Healthy && c.Status.ConsecutiveProbeFailures == 1 {
		r.recorder.Eventf(c, nil, corev1.EventTypeWarning, EventProbeFailed, "Probe", "probe failed (%s): %s", res.Reason, res.Message)
	}
}

// next is the delay until the next probe: the interval while the cluster is
// ready or on its way to the threshold, then exponential backoff with
// jitter, capped at MaxBackoff.
func (r *Reconciler) next(c *clusterv1alpha1.Cluster) time.Duration {
	d := r.opts.ProbeInterval
	if over := c.Status.ConsecutiveProbeFailures - r.opts.FailureThreshold; over >= 0 {
		for i := int32(0); i <= over && d < r.opts.MaxBackoff; i++ {
			d *= 2
		}
		if d > r.opts.MaxBackoff {
			d = r.opts.MaxBackoff
		}
	}
	// ±10% jitter spreads the probes of many clusters.
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}
