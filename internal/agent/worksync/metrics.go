package worksync

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus series (docs/pull-mode-work.md). They
// are registered with Options.Registerer; an engine started again in the
// same process reuses the series registered by the first.
type metrics struct {
	applies          *prometheus.CounterVec
	applyDuration    prometheus.Histogram
	driftCorrections *prometheus.CounterVec
	deletes          *prometheus.CounterVec
	works            prometheus.Gauge
	statusWrites     *prometheus.CounterVec
	hubConnected     prometheus.Gauge
	hubTransitions   *prometheus.CounterVec
	storeWrites      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_applies_total",
			Help: "Server-side applies of Work manifests to the local cluster, by result (success, conflict: refused under conflictResolution Abort, error).",
		}, []string{"result"}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flotilla_agent_apply_duration_seconds",
			Help:    "Latency of server-side applies to the local cluster.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		driftCorrections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_drift_corrections_total",
			Help: "Objects applied again because they were changed (cause=changed) or deleted (cause=deleted) in the local cluster, whether or not the hub was reachable.",
		}, []string{"cause"}),
		deletes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_deletes_total",
			Help: "Objects deleted from the local cluster because the hub removed them from a Work or deleted the Work, by result (success, error).",
		}, []string{"result"}),
		works: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flotilla_agent_works",
			Help: "Works in the agent's local store, including those whose objects are being removed.",
		}),
		statusWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_status_writes_total",
			Help: "Writes of Work status to the hub, by result (success, error).",
		}, []string{"result"}),
		hubConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flotilla_agent_hub_connected",
			Help: "1 while the last request to the hub succeeded, 0 while the hub is unreachable and the agent runs from its local store.",
		}),
		hubTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_hub_connection_transitions_total",
			Help: "Changes of the hub connection, by new state (connected, disconnected).",
		}, []string{"state"}),
		storeWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_agent_store_writes_total",
			Help: "Writes to the agent's local store (each fsync'd), by result (success, error).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m
	}
	m.applies = register(reg, m.applies)
	m.applyDuration = register(reg, m.applyDuration)
	m.driftCorrections = register(reg, m.driftCorrections)
	m.deletes = register(reg, m.deletes)
	m.works = register(reg, m.works)
	m.statusWrites = register(reg, m.statusWrites)
	m.hubConnected = register(reg, m.hubConnected)
	m.hubTransitions = register(reg, m.hubTransitions)
	m.storeWrites = register(reg, m.storeWrites)
	return m
}

// register registers c, or returns the collector already registered under
// its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
