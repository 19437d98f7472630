package bindingmetrics

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func cond(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason}
}

var (
	scheduled   = cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled)
	applied     = cond(workv1alpha1.ConditionApplied, metav1.ConditionTrue, workv1alpha1.ReasonApplied)
	healthy     = cond(workv1alpha1.ConditionHealthy, metav1.ConditionTrue, workv1alpha1.HealthHealthy)
	unhealthy   = cond(workv1alpha1.ConditionHealthy, metav1.ConditionFalse, workv1alpha1.HealthUnhealthy)
	noFit       = cond(workv1alpha1.ConditionScheduled, metav1.ConditionFalse, workv1alpha1.ReasonNoClusterFits)
	pending     = cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonPending)
	notReady    = cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonClusterNotReady)
	applyFailed = cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonApplyFailed)
	conflict    = cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonConflict)
	overrideErr = cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonOverrideFailed)
)

func TestPhase(t *testing.T) {
	for name, tc := range map[string]struct {
		conds []metav1.Condition
		want  string
	}{
		"new binding, nothing decided":           {want: PhaseApplying},
		"no cluster fits":                        {conds: []metav1.Condition{noFit}, want: PhaseUnschedulable},
		"unschedulable wins over a stale result": {conds: []metav1.Condition{noFit, applyFailed, unhealthy}, want: PhaseUnschedulable},
		"scheduled, not applied yet":             {conds: []metav1.Condition{scheduled}, want: PhaseApplying},
		"pending":                                {conds: []metav1.Condition{scheduled, pending}, want: PhaseApplying},
		"cluster not ready":                      {conds: []metav1.Condition{scheduled, notReady}, want: PhaseApplying},
		"apply failed":                           {conds: []metav1.Condition{scheduled, applyFailed}, want: PhaseFailed},
		"conflict":                               {conds: []metav1.Condition{scheduled, conflict}, want: PhaseFailed},
		"override failed":                        {conds: []metav1.Condition{scheduled, overrideErr, healthy}, want: PhaseFailed},
		"applied, health unknown":                {conds: []metav1.Condition{scheduled, applied}, want: PhaseProgressing},
		"applied, unhealthy":                     {conds: []metav1.Condition{scheduled, applied, unhealthy}, want: PhaseProgressing},
		"applied and healthy":                    {conds: []metav1.Condition{scheduled, applied, healthy}, want: PhaseHealthy},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Phase(&workv1alpha1.BindingStatus{Conditions: tc.conds}); got != tc.want {
				t.Errorf("Phase = %s, want %s", got, tc.want)
			}
		})
	}
}

func rb(name string, conds ...metav1.Condition) *workv1alpha1.ResourceBinding {
	return &workv1alpha1.ResourceBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Status: workv1alpha1.BindingStatus{Conditions: conds}}
}

func crb(name string, conds ...metav1.Condition) *workv1alpha1.ClusterResourceBinding {
	return &workv1alpha1.ClusterResourceBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: workv1alpha1.BindingStatus{Conditions: conds}}
}

// gather scrapes g and returns flotilla_bindings by phase, failing the
// test on an inconsistent exposition.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	for _, mf := range mfs {
		if mf.GetName() != MetricName {
			continue
		}
		if mf.GetType().String() != "GAUGE" {
			t.Errorf("%s is a %s, want a gauge", MetricName, mf.GetType())
		}
		got = map[string]float64{}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "phase" {
				t.Fatalf("labels: got %v, want phase only", m.GetLabel())
			}
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got
}

func collect(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return gather(t, reg)
}

func TestCollector(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		rb("web-deployment", scheduled, applied, healthy),
		rb("api-deployment", scheduled, applied, healthy),
		rb("db-statefulset", scheduled, applied, unhealthy),
		rb("cfg-configmap", scheduled, conflict),
		rb("big-deployment", noFit),
		crb("reader-clusterrole", scheduled, applied, healthy),
		crb("new-clusterrole"),
	).Build()
	want := map[string]float64{PhaseApplying: 1, PhaseFailed: 1, PhaseHealthy: 3, PhaseProgressing: 1, PhaseUnschedulable: 1}
	if diff := cmp.Diff(want, collect(t, NewCollector(c))); diff != "" {
		t.Errorf("flotilla_bindings (-want +got):\n%s", diff)
	}
}

func TestCollectorEmptyFleetExportsEveryPhase(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).Build()
	want := map[string]float64{PhaseApplying: 0, PhaseFailed: 0, PhaseHealthy: 0, PhaseProgressing: 0, PhaseUnschedulable: 0}
	if diff := cmp.Diff(want, collect(t, NewCollector(c))); diff != "" {
		t.Errorf("flotilla_bindings (-want +got):\n%s", diff)
	}
}

func TestCollectorSkipsWhenTheCacheFails(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("the cache is not started")
		},
	}).Build()
	if got := collect(t, NewCollector(c)); got != nil {
		t.Errorf("got %v from a failing cache, want no series", got)
	}
}

// TestRegisterTwice: a hub manager built again in the same process (tests
// restart it) reuses the registered collector with the new client.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	old := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(rb("a", noFit)).Build()
	if err := register(reg, old); err != nil {
		t.Fatal(err)
	}
	fresh := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(rb("a", scheduled, applied, healthy)).Build()
	if err := register(reg, fresh); err != nil {
		t.Fatalf("second registration: %v", err)
	}
	want := map[string]float64{PhaseApplying: 0, PhaseFailed: 0, PhaseHealthy: 1, PhaseProgressing: 0, PhaseUnschedulable: 0}
	if diff := cmp.Diff(want, gather(t, reg)); diff != "" {
		t.Errorf("flotilla_bindings (-want +got):\n%s", diff)
	}
}
