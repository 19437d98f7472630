package clusterhealth

import (
	"context"
	"fmt"
	"slices"

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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// DefaultUnhealthyFleetThreshold is the share of not-Ready clusters above
// which the hub pauses failover.
const DefaultUnhealthyFleetThreshold = 0.55

// minFleetForDisruption is the smallest fleet in which many clusters going
// down at once is read as the hub's own outage: in a fleet of two, one
// cluster down is half the fleet and must still fail over.
const minFleetForDisruption = 3

// Event reasons of the taint controller.
const (
	EventTainted      = "Tainted"
	EventTaintRemoved = "TaintRemoved"
)

const (
	fleetKey            = "fleet"
	taintControllerName = "cluster-taints"
	taintFieldManager   = "flotilla-taints"
)

// TaintReconciler keeps the not-ready taint of every Cluster in step with
// its Ready condition: NoExecute, so that templates leave the cluster once
// their failover toleration runs out. While more than Threshold of a fleet
// of three or more clusters is not Ready at once, the taint is NoSchedule
// instead: the hub then more likely lost its own network than the clusters
// theirs, and moving every workload would stampede.
type TaintReconciler struct {
	client    client.Client
	recorder  events.EventRecorder
	clock     clock.PassiveClock
	threshold float64
	disrupted *bool
}

// NewTaintReconciler returns a TaintReconciler; threshold is a share of the
// fleet, in (0, 1]; 1 or more never pauses.
func NewTaintReconciler(c client.Client, recorder events.EventRecorder, threshold float64) *TaintReconciler {
	return &TaintReconciler{client: c, recorder: recorder, clock: clock.RealClock{}, threshold: threshold}
}

// SetupWithManager registers the controller. Every change of a cluster's
// readiness or taints reconciles the whole fleet: the threshold depends on
// all clusters at once.
func (r *TaintReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toFleet := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: fleetKey}}}
	})
	relevant := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, okOld := e.ObjectOld.(*clusterv1alpha1.Cluster)
			cur, okNew := e.ObjectNew.(*clusterv1alpha1.Cluster)
			return !okOld || !okNew || readyStatus(old) != readyStatus(cur) ||
				!apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints)
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(taintControllerName).
		Watches(&clusterv1alpha1.Cluster{}, toFleet, builder.WithPredicates(relevant)).
		Complete(r)
}

// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch;update;patch

// Reconcile brings every cluster's not-ready taint up to date.
func (r *TaintReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var l clusterv1alpha1.ClusterList
	if err := r.client.List(ctx, &l); err != nil {
		return ctrl.Result{}, err
	}
	notReady := 0
	for i := range l.Items {
		if readyStatus(&l.Items[i]) == metav1.ConditionFalse {
			notReady++
		}
	}
	disrupted := len(l.Items) >= minFleetForDisruption && float64(notReady) > r.threshold*float64(len(l.Items))
	r.noteDisruption(ctx, disrupted, notReady, len(l.Items))
	effect := corev1.TaintEffectNoExecute
	if disrupted {
		effect = corev1.TaintEffectNoSchedule
	}
	var firstErr error
	for i := range l.Items {
		c := &l.Items[i]
		want := readyStatus(c) == metav1.ConditionFalse && c.DeletionTimestamp.IsZero()
		if err := r.sync(ctx, c, want, effect); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return ctrl.Result{}, firstErr
}

// sync puts the not-ready taint on c with effect, or takes it off.
func (r *TaintReconciler) sync(ctx context.Context, c *clusterv1alpha1.Cluster, want bool, effect corev1.TaintEffect) error {
	i := slices.IndexFunc(c.Spec.Taints, func(t corev1.Taint) bool { return t.Key == clusterv1alpha1.TaintNotReady })
	has := i >= 0
	switch {
	case want && has && c.Spec.Taints[i].Effect == effect:
		return nil
	case !want && !has:
		return nil
	}
	before := c.DeepCopy()
	taints := slices.DeleteFunc(slices.Clone(c.Spec.Taints), func(t corev1.Taint) bool { return t.Key == clusterv1alpha1.TaintNotReady })
	if want {
		added := metav1.NewTime(r.clock.Now())
		if has && c.Spec.Taints[i].TimeAdded != nil {
			// The cluster has been down since then: a change of effect
			// must not restart its toleration.
			added = *c.Spec.Taints[i].TimeAdded
		}
		taints = append(taints, corev1.Taint{Key: clusterv1alpha1.TaintNotReady, Effect: effect, TimeAdded: &added})
	}
	c.Spec.Taints = taints
	// The lock keeps a concurrent `flotilla taint` from being lost.
	err := r.client.Patch(ctx, c, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}),
		client.FieldOwner(taintFieldManager))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("taint cluster %s: %w", c.Name, err)
	}
	if want {
		r.recorder.Eventf(c, nil, corev1.EventTypeWarning, EventTainted, "Taint",
			"tainted %s:%s: templates leave it when their failover toleration runs out", clusterv1alpha1.TaintNotReady, effect)
	} else {
		r.recorder.Eventf(c, nil, corev1.EventTypeNormal, EventTaintRemoved, "Taint", "removed %s: the cluster is Ready", clusterv1alpha1.TaintNotReady)
	}
	return nil
}

// noteDisruption logs and counts when the fleet enters or
// leaves the disrupted state.
func (r *TaintReconciler) noteDisruption(ctx context.Context, disrupted bool, notReady, total int) {
	if r.disrupted != nil && *r.disrupted == disrupted {
		return
	}
	first := r.disrupted == nil
	r.disrupted = &disrupted
	if disrupted {
		metrics.FleetDisrupted.Set(1)
	} else {
		metrics.FleetDisrupted.Set(0)
	}
	if first && !disrupted {
		return
	}
	log := ctrl.LoggerFrom(ctx)
	if disrupted {
		log.Info("failover paused: most of the fleet is not Ready; the hub's own network is the likelier fault",
			"notReady", notReady, "clusters", total, "threshold", r.threshold)
		return
	}
	log.Info("failover resumed", "notReady", notReady, "clusters", total)
}

// readyStatus is the status of c's Ready condition; Unknown when it has none.
func readyStatus(c *clusterv1alpha1.Cluster) metav1.ConditionStatus {
	if cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady); cond != nil {
		return cond.Status
	}
	return metav1.ConditionUnknown
}
