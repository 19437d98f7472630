package top_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub/bindingmetrics"
	"github.com/flotilla-io/flotilla/test/framework"
)

// bindingPhases scrapes flotilla_bindings from the in-process hub's
// registry, the one `flotilla hub` serves on /metrics.
func bindingPhases() (map[string]float64, error) {
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		if mf.GetName() != bindingmetrics.MetricName {
			continue
		}
		out := map[string]float64{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "phase" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no %s series", bindingmetrics.MetricName)
}

func configMapPolicy(ns, name string, clusters ...string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "v1", Kind: "ConfigMap", Name: name}},
			Placement:         policyv1alpha1.Placement{ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: clusters}},
		},
	}
}

// TestBindingsMetric: flotilla_bindings counts a propagated template as
// Healthy and one that no cluster fits as Unschedulable.
func TestBindingsMetric(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns = "binding-metrics"
	if err := env.Hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	objs := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "placed"}, Data: map[string]string{"a": "b"}},
		configMapPolicy(ns, "placed", "member-cluster-2"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nowhere"}, Data: map[string]string{"a": "b"}},
		configMapPolicy(ns, "nowhere", "no-such-cluster"),
	}
	for _, o := range objs {
		if err := env.Hub.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, o := range append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}) {
			if err := env.Hub.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %s: %v", o.GetName(), err)
			}
		}
	})
	framework.Eventually(t, timeout, func() error {
		phases, err := bindingPhases()
		if err != nil {
			return err
		}
		for _, p := range bindingmetrics.Phases {
			if _, ok := phases[p]; !ok {
				return fmt.Errorf("no series for phase %s: %v", p, phases)
			}
		}
		if phases[bindingmetrics.PhaseHealthy] < 1 || phases[bindingmetrics.PhaseUnschedulable] < 1 {
			return fmt.Errorf("flotilla_bindings %v: want at least one Healthy and one Unschedulable", phases)
		}
		return nil
	})
}
