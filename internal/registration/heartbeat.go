package registration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// Reasons of a Pull cluster's Ready and Offline conditions. They belong
// beside the condition types in api/cluster/v1alpha1 once that package
// takes them.
const (
	// ReasonHeartbeating (Ready True, Offline False): the agent's lease is
	// current.
	ReasonHeartbeating = "Heartbeating"
	// ReasonLeaseExpired (Offline True): the agent has not renewed its
	// lease within the lease's duration.
	ReasonLeaseExpired = "LeaseExpired"
	// ReasonOffline (Ready False): the cluster is Offline.
	ReasonOffline = "Offline"
	// ReasonAwaitingAgent (Ready False, Offline Unknown): the cluster is
	// registered but its agent has not heartbeated yet.
	ReasonAwaitingAgent = "AwaitingAgent"
	// ReasonAwaitingAcceptance (Ready False): the registration waits for
	// `flotilla accept`.
	ReasonAwaitingAcceptance = "AwaitingAcceptance"
)

// Event reasons of the heartbeat controller.
const (
	EventClusterOffline = "ClusterOffline"
	EventClusterOnline  = "ClusterOnline"
)

// DefaultLeaseDuration is assumed for a lease that does not say.
const DefaultLeaseDuration = 40 * time.Second

// HeartbeatReconciler keeps the Ready and Offline conditions of Pull
// clusters from their agents' Leases. The hub never probes a Pull cluster:
// Offline means the agent stopped renewing its lease, whatever the reason,
// unlike a Push cluster's failed probe.
//
// It times heartbeats by its own clock, from when it sees a lease renewed,
// so that an agent's clock skew cannot keep a dead cluster online. After a
// hub restart it takes the lease's renewTime, or now if that is later.
type HeartbeatReconciler struct {
	client   client.Client
	recorder events.EventRecorder
	clock    clock.PassiveClock

	mu   sync.Mutex
	seen map[string]observation
}

// observation is when the hub saw a lease's renewTime change.
type observation struct {
	renewTime time.Time
	at        time.Time
}

// NewHeartbeatReconciler returns a HeartbeatReconciler.
func NewHeartbeatReconciler(c client.Client, recorder events.EventRecorder, opts ...Option) *HeartbeatReconciler {
	o := options{clock: clock.RealClock{}}
	for _, f := range opts {
		f(&o)
	}
	return &HeartbeatReconciler{client: c, recorder: recorder, clock: o.clock, seen: map[string]observation{}}
}

// SetupWithManager registers the controller.
func (r *HeartbeatReconciler) SetupWithManager(mgr ctrl.Manager) error {
	pull := predicate.NewPredicateFuncs(func(o client.Object) bool {
		c, ok := o.(*clusterv1alpha1.Cluster)
		return ok && c.Spec.SyncMode == clusterv1alpha1.Pull
	})
	leases := predicate.NewPredicateFuncs(func(o client.Object) bool { return leaseCluster(o) != "" })
	return ctrl.NewControllerManagedBy(mgr).
		Named("cluster-heartbeat").
		// Its own status writes must not bring a cluster back: only the
		// spec, the annotations (acceptance) and the lease do.
		For(&clusterv1alpha1.Cluster{}, builder.WithPredicates(pull,
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: leaseCluster(o)}}}
		}), builder.WithPredicates(leases)).
		Complete(r)
}

// leaseCluster returns the cluster whose heartbeat lease o is, or "".
func leaseCluster(o client.Object) string {
	cluster, ok := strings.CutPrefix(o.GetNamespace(), ClusterNamespace(""))
	if !ok || cluster == "" || o.GetName() != LeaseName(cluster) {
		return ""
	}
	return cluster
}

// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch

// Reconcile brings one Pull cluster's Ready and Offline conditions up to
// date with its agent's lease.
func (r *HeartbeatReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c clusterv1alpha1.Cluster
	if err := r.client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if c.Spec.SyncMode != clusterv1alpha1.Pull || !c.DeletionTimestamp.IsZero() {
		r.forget(c.Name)
		return ctrl.Result{}, nil
	}
	orig := c.DeepCopy()
	now := r.clock.Now()
	var recheck time.Duration
	if c.Annotations[AnnotationAcceptance] == AcceptancePending {
		r.set(&c, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonAwaitingAcceptance,
			fmt.Sprintf("the registration waits for a second approval: run `flotilla accept %s` on the hub", c.Name))
	} else {
		var lease coordinationv1.Lease
		key := client.ObjectKey{Namespace: ClusterNamespace(c.Name), Name: LeaseName(c.Name)}
		switch err := r.client.Get(ctx, key, &lease); {
		case apierrors.IsNotFound(err):
			r.forget(c.Name)
			r.set(&c, clusterv1alpha1.ConditionOffline, metav1.ConditionUnknown, ReasonAwaitingAgent, "no heartbeat from the cluster's agent yet")
			r.set(&c, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonAwaitingAgent,
				"no heartbeat from the cluster's agent yet: run `flotilla agent` for it")
		case err != nil:
			return ctrl.Result{}, err
		default:
			recheck = r.assess(&c, &lease, now)
		}
	}
	if !apiequality.Semantic.DeepEqual(orig.Status, c.Status) {
		if err := r.client.Status().Patch(ctx, &c, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("patch cluster status: %w", err)
		}
		r.emit(orig, &c)
	} else {
		ready := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
		metrics.RecordClusterReady(c.Name, ready, ready) // the gauge only: nothing changed
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// assess sets the conditions from the lease and returns when to look
// again: just after the lease would expire, while it is current.
func (r *HeartbeatReconciler) assess(c *clusterv1alpha1.Cluster, lease *coordinationv1.Lease, now time.Time) time.Duration {
	duration := DefaultLeaseDuration
	if d := lease.Spec.LeaseDurationSeconds; d != nil && *d > 0 {
		duration = time.Duration(*d) * time.Second
	}
	last := r.lastHeartbeat(c.Name, lease, now)
	if last.IsZero() {
		r.set(c, clusterv1alpha1.ConditionOffline, metav1.ConditionUnknown, ReasonAwaitingAgent, "the agent's lease was never renewed")
		r.set(c, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonAwaitingAgent, "the agent's lease was never renewed")
		return 0
	}
	expires := last.Add(duration)
	if now.Before(expires) {
		r.set(c, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, ReasonHeartbeating,
			fmt.Sprintf("the agent renews its lease %s/%s (duration %s)", lease.Namespace, lease.Name, duration))
		r.set(c, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, ReasonHeartbeating, "the cluster's agent heartbeats")
		return expires.Sub(now) + 100*time.Millisecond
	}
	since := last.UTC().Format(time.RFC3339)
	r.set(c, clusterv1alpha1.ConditionOffline, metav1.ConditionTrue, ReasonLeaseExpired,
		fmt.Sprintf("the agent has not renewed its lease %s/%s since %s; it lasts %s", lease.Namespace, lease.Name, since, duration))
	r.set(c, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonOffline,
		fmt.Sprintf("the cluster is offline: its agent has not heartbeated since %s", since))
	return 0
}

// lastHeartbeat is when the hub last saw the lease renewed; zero for a
// lease never renewed.
func (r *HeartbeatReconciler) lastHeartbeat(cluster string, lease *coordinationv1.Lease, now time.Time) time.Time {
	if lease.Spec.RenewTime == nil {
		r.forget(cluster)
		return time.Time{}
	}
	renew := lease.Spec.RenewTime.Time
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, ok := r.seen[cluster]
	if ok && prev.renewTime.Equal(renew) {
		return prev.at
	}
	at := now
	if !ok && renew.Before(now) {
		// First sight since the hub started: the agent's clock may age the
		// lease, never rejuvenate it.
		at = renew
	}
	r.seen[cluster] = observation{renewTime: renew, at: at}
	metrics.ClusterLastHeartbeat.WithLabelValues(cluster).Set(float64(at.UnixNano()) / 1e9)
	return at
}

func (r *HeartbeatReconciler) forget(cluster string) {
	r.mu.Lock()
	delete(r.seen, cluster)
	r.mu.Unlock()
}

func (r *HeartbeatReconciler) set(c *clusterv1alpha1.Cluster, t string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
		LastTransitionTime: metav1.NewTime(r.clock.Now()),
	})
}

// emit records the Offline transitions, and the Ready ones in
// flotilla_cluster_ready_transitions_total as the probes of Push clusters do.
func (r *HeartbeatReconciler) emit(orig, c *clusterv1alpha1.Cluster) {
	metrics.RecordClusterReady(c.Name, meta.FindStatusCondition(orig.Status.Conditions, clusterv1alpha1.ConditionReady),
		meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady))
	before := meta.FindStatusCondition(orig.Status.Conditions, clusterv1alpha1.ConditionOffline)
	after := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionOffline)
	if after == nil || (before != nil && before.Status == after.Status) {
		return
	}
	switch after.Status {
	case metav1.ConditionTrue:
		r.recorder.Eventf(c, nil, corev1.EventTypeWarning, EventClusterOffline, "Heartbeat", "cluster is offline: %s", after.Message)
	case metav1.ConditionFalse:
		r.recorder.Eventf(c, nil, corev1.EventTypeNormal, EventClusterOnline, "Heartbeat", "cluster is online: %s", after.Message)
	}
}
