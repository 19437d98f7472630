package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// ClusterProbeDuration is the latency of probes of members' API servers.
	ClusterProbeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flotilla_cluster_probe_duration_seconds",
		Help:    "Latency of the hub's health probes of member API servers, by cluster and result (Healthy, Unreachable, TLSFailed, Unauthorized, Unhealthy).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"cluster", "result"})

	// ClusterReady is 1 while a member's Ready condition is True (Push:
	// the hub's probes; Pull: the agent's heartbeat).
	ClusterReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flotilla_cluster_ready",
		Help: "1 when the member cluster's Ready condition is True, 0 otherwise.",
	}, []string{"cluster"})

	// ClusterLastHeartbeat is when a Pull cluster's agent last renewed its
	// lease, as the hub saw it.
	ClusterLastHeartbeat = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flotilla_cluster_last_heartbeat_timestamp_seconds",
		Help: "Unix time at which the hub last saw a Pull cluster's agent renew its lease; time() minus it is the heartbeat's age.",
	}, []string{"cluster"})

	// ClusterProbeFailures counts failed probes.
	ClusterProbeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_cluster_probe_failures_total",
		Help: "Failed health probes of member API servers, by cluster and reason.",
	}, []string{"cluster", "reason"})

	// ClusterReadyTransitions counts changes of the Ready condition.
	ClusterReadyTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_cluster_ready_transitions_total",
		Help: "Changes of a member cluster's Ready condition, by cluster and new status.",
	}, []string{"cluster", "status"})

	// ReconcileTotal counts the propagation pipeline's reconciles.
	ReconcileTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_propagation_reconcile_total",
		Help: "Reconciles of the propagation pipeline, by controller (detector, execution) and result (success; requeue: waiting for a cache or re-checking a conflict; error).",
	}, []string{"controller", "result"})

	// MemberWrites counts the hub's writes to member clusters.
	MemberWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_member_writes_total",
		Help: "Writes (apply, create, patch, delete) the hub made to member clusters, by cluster, operation and result (success, conflict, error).",
	}, []string{"cluster", "operation", "result"})

	// ApplyDuration is the latency of server-side applies to members.
	ApplyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flotilla_member_apply_duration_seconds",
		Help:    "Latency of server-side applies and creates of objects in member clusters, by cluster.",
		Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"cluster"})

	// PropagationLatency is the time from a template's creation to its
	// first successful apply in a member.
	PropagationLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "flotilla_propagation_latency_seconds",
		Help:    "Time from a template's creation on the hub to its first successful apply in each member.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})

	// ReportsHeld is how many reports the pipeline holds back while it is
	// busy.
	ReportsHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flotilla_propagation_reports_held",
		Help: "Reports the propagation pipeline holds back while a burst passes, by report (claim: a template's first claim; status: a binding's status and its template's summed status; scheduled: the scheduler's record of a placement the detector wrote).",
	}, []string{"report"})

	// BindingsCreated counts the bindings the detector created.
	BindingsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flotilla_bindings_created_total",
		Help: "Bindings the detector created, one per newly claimed template.",
	})

	// FleetDisrupted is 1 while so much of the fleet is not Ready that the
	// hub stops failover (it suspects its own network).
	FleetDisrupted = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "flotilla_fleet_disrupted",
		Help: "1 while the share of not-Ready clusters exceeds --unhealthy-fleet-threshold and failover is paused.",
	})

	// Evictions counts templates moved away from a cluster.
	Evictions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flotilla_evictions_total",
		Help: "Templates the scheduler moved away from a cluster, by cluster and reason (ClusterFailure, ApplicationFailure, Taint).",
	}, []string{"cluster", "reason"})

	// EvictionsThrottled counts evictions postponed by the fleet-wide rate limit.
	EvictionsThrottled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "flotilla_evictions_throttled_total",
		Help: "Evictions postponed by the fleet-wide eviction rate limit (--eviction-rate).",
	})
)

func init() {
	metrics.Registry.MustRegister(ClusterProbeDuration, ClusterReady, ClusterLastHeartbeat, ClusterProbeFailures, ClusterReadyTransitions,
		ReconcileTotal, MemberWrites, ApplyDuration, PropagationLatency, ReportsHeld, BindingsCreated,
		FleetDisrupted, Evictions, EvictionsThrottled)
}

// RecordClusterReady sets flotilla_cluster_ready from a cluster's Ready
// condition after a reconcile, and counts a transition in
// flotilla_cluster_ready_transitions_total when its status differs from
// before. It reports whether it changed. Push clusters' probes and Pull
// clusters' heartbeats both record through it.
func RecordClusterReady(cluster string, before, after *metav1.Condition) bool {
	v := 0.0
	if after != nil && after.Status == metav1.ConditionTrue {
		v = 1
	}
	ClusterReady.WithLabelValues(cluster).Set(v)
	if after == nil || (before != nil && before.Status == after.Status) {
		return false
	}
	ClusterReadyTransitions.WithLabelValues(cluster, string(after.Status)).Inc()
	return true
}

// ForgetCluster drops every series of a cluster that left the fleet.
func ForgetCluster(name string) {
	l := prometheus.Labels{"cluster": name}
	ClusterProbeDuration.DeletePartialMatch(l)
	ClusterReady.DeletePartialMatch(l)
	ClusterLastHeartbeat.DeletePartialMatch(l)
	ClusterProbeFailures.DeletePartialMatch(l)
	ClusterReadyTransitions.DeletePartialMatch(l)
	Evictions.DeletePartialMatch(l)
}
