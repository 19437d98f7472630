package bindingmetrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// MetricName is the gauge the collector exports.
const MetricName = "flotilla_bindings"

// Phases of a binding, the values of the phase label.
const (
	// PhaseUnschedulable: Scheduled is False; no cluster fits.
	PhaseUnschedulable = "Unschedulable"
	// PhaseFailed: Applied is not True because a cluster refused the
	// manifest (ApplyFailed), holds a foreign object (Conflict) or an
	// override could not apply (OverrideFailed).
	PhaseFailed = "Failed"
	// PhaseApplying: Applied is not True for another reason (not scheduled
	// yet, pending, a cluster not Ready, suspended).
	PhaseApplying = "Applying"
	// PhaseProgressing: applied everywhere, but Healthy is not True.
	PhaseProgressing = "Progressing"
	// PhaseHealthy: applied everywhere and healthy everywhere.
	PhaseHealthy = "Healthy"
)

// Phases lists every phase; each is exported on every scrape, 0 when no
// binding is in it, so that dashboards see every series.
var Phases = []string{PhaseUnschedulable, PhaseFailed, PhaseApplying, PhaseProgressing, PhaseHealthy}

// Phase returns the phase of a binding from its status conditions.
func Phase(st *workv1alpha1.BindingStatus) string {
	if c := meta.FindStatusCondition(st.Conditions, workv1alpha1.ConditionScheduled); c != nil && c.Status == metav1.ConditionFalse {
		return PhaseUnschedulable
	}
	if c := meta.FindStatusCondition(st.Conditions, workv1alpha1.ConditionApplied); c == nil || c.Status != metav1.ConditionTrue {
		if c != nil {
			switch c.Reason {
			case workv1alpha1.ReasonApplyFailed, workv1alpha1.ReasonConflict, workv1alpha1.ReasonOverrideFailed:
				return PhaseFailed
			}
		}
		return PhaseApplying
	}
	if !meta.IsStatusConditionTrue(st.Conditions, workv1alpha1.ConditionHealthy) {
		return PhaseProgressing
	}
	return PhaseHealthy
}

// ListTimeout bounds how long one scrape waits for the cache.
const ListTimeout = 10 * time.Second

// Collector counts bindings by phase on each scrape.
type Collector struct {
	desc *prometheus.Desc

	mu     sync.RWMutex
	reader client.Reader
}

var _ prometheus.Collector = &Collector{}

// NewCollector returns a collector that lists bindings through r, which
// should be the manager's cache-backed client.
func NewCollector(r client.Reader) *Collector {
	return &Collector{
		desc: prometheus.NewDesc(MetricName,
			"Bindings (ResourceBindings and ClusterResourceBindings) by phase: Unschedulable, Failed, Applying, Progressing or Healthy.",
			[]string{"phase"}, nil),
		reader: r,
	}
}

// Describe sends the gauge's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect lists the bindings and sends one gauge per phase. When the
// cache cannot list them (not started yet), it sends nothing, so that the
// rest of the scrape still succeeds.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	r := c.reader
	c.mu.RUnlock()
	ctx, cancel := context.WithTimeout(context.Background(), ListTimeout)
	defer cancel()
	counts, err := Count(ctx, r)
	if err != nil {
		ctrl.Log.WithName("bindingmetrics").V(1).Info("skipping flotilla_bindings in this scrape", "error", err.Error())
		return
	}
	for _, p := range Phases {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[p]), p)
	}
}

// Count returns the number of bindings in each phase.
func Count(ctx context.Context, r client.Reader) (map[string]int, error) {
	counts := make(map[string]int, len(Phases))
	// The objects are only read: no need for the cache to copy them.
	var rbs workv1alpha1.ResourceBindingList
	if err := r.List(ctx, &rbs, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range rbs.Items {
		counts[Phase(&rbs.Items[i].Status)]++
	}
	var crbs workv1alpha1.ClusterResourceBindingList
	if err := r.List(ctx, &crbs, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range crbs.Items {
		counts[Phase(&crbs.Items[i].Status)]++
	}
	return counts, nil
}

// setReader makes the collector list through r from now on.
func (c *Collector) setReader(r client.Reader) {
	c.mu.Lock()
	c.reader = r
	c.mu.Unlock()
}

// Register registers a collector that lists through r on
// controller-runtime's metrics registry, which `flotilla hub` serves. When
// a process builds the hub's manager again (tests restart it in-process),
// the collector registered first lists through the new r instead.
func Register(r client.Reader) error {
	return register(metrics.Registry, r)
}

func register(reg prometheus.Registerer, r client.Reader) error {
	err := reg.Register(NewCollector(r))
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(*Collector); ok {
			existing.setReader(r)
			return nil
		}
	}
	return err
}
