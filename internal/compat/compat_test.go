package compat

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestTranslate(t *testing.T) {
	cases := map[string]struct {
		apiVersion, kind string
		wantVersion      string
		translated       bool
	}{
		"karmada policy":           {"policy.karmada.io/v1alpha1", "PropagationPolicy", "policy.flotilla.io/v1alpha1", true},
		"karmada cluster policy":   {"policy.karmada.io/v1alpha1", "ClusterPropagationPolicy", "policy.flotilla.io/v1alpha1", true},
		"karmada override":         {"policy.karmada.io/v1alpha1", "OverridePolicy", "policy.flotilla.io/v1alpha1", true},
		"karmada cluster override": {"policy.karmada.io/v1alpha1", "ClusterOverridePolicy", "policy.flotilla.io/v1alpha1", true},
		"karmada other kind":       {"policy.karmada.io/v1alpha1", "FederatedResourceQuota", "policy.karmada.io/v1alpha1", false},
		"a deployment":             {"apps/v1", "Deployment", "apps/v1", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := &unstructured.Unstructured{}
			in.SetAPIVersion(tc.apiVersion)
			in.SetKind(tc.kind)
			in.SetName("x")
			out, ok := Translate(in)
			if ok != tc.translated || out.GetAPIVersion() != tc.wantVersion {
				t.Fatalf("Translate = (%s, %v), want (%s, %v)", out.GetAPIVersion(), ok, tc.wantVersion, tc.translated)
			}
			if ok && out.GetAnnotations()[AnnotationTranslatedFrom] != tc.apiVersion {
				t.Errorf("annotations %v", out.GetAnnotations())
			}
			if in.GetAPIVersion() != tc.apiVersion {
				t.Error("input was modified")
			}
		})
	}
}
