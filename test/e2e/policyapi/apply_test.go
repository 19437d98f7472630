package policyapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/compat"
	"github.com/flotilla-io/flotilla/test/framework"
)

// flotilla runs the binary under test against the hub.
func flotilla(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return env.Flotilla(t, args...)
}

// seedDir is the seed's examples beside the repository (../shared).
func seedDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(env.RepoRoot, "..", "shared", "seed", "examples")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("seed examples not found at %s: %v", d, err)
	}
	return d
}

func TestApplyKarmadaSeedDocuments(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	out, err := flotilla(t, "apply", "-f", filepath.Join(seedDir(t), "case1-weighted.yaml"), "-f", filepath.Join(seedDir(t), "karmada-propagation-policies.yaml"), "-n", "default")
	t.Cleanup(func() {
		_ = env.Hub.Delete(ctx, &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "myapp-propagation"}})
		_ = env.Hub.Delete(ctx, &policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "myapp-cluster-propagation"}})
		_ = env.Hub.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "myapp"}})
	})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "translated from policy.karmada.io/v1alpha1") {
		t.Errorf("apply does not report the translation:\n%s", out)
	}
	var pp policyv1alpha1.PropagationPolicy
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: "myapp-propagation"}, &pp); err != nil {
		t.Fatalf("native PropagationPolicy: %v", err)
	}
	if pp.Annotations[compat.AnnotationTranslatedFrom] != compat.KarmadaPolicyAPIVersion {
		t.Errorf("annotations %v", pp.Annotations)
	}
	var cpp policyv1alpha1.ClusterPropagationPolicy
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: "myapp-cluster-propagation"}, &cpp); err != nil {
		t.Fatalf("native ClusterPropagationPolicy: %v", err)
	}
	var d appsv1.Deployment
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: "myapp"}, &d); err != nil {
		t.Fatalf("template Deployment: %v", err)
	}
	// The seed's two files both define myapp-propagation: the later one
	// (the plain Duplicated policy) is what stays.
	rs := pp.Spec.Placement.ReplicaScheduling
	if rs == nil || rs.ReplicaSchedulingType != policyv1alpha1.ReplicaSchedulingTypeDuplicated {
		t.Errorf("replicaScheduling %+v, want the second file's Duplicated", rs)
	}
}

func TestApplyRejectsBadDocumentsAndAppliesNothing(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `apiVersion: v1
kind: ConfigMap
metadata: {name: should-not-exist}
data: {a: b}
---
`
	cases := map[string]struct{ body, says string }{
		"unknown field": {good + `apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: bad}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  schedulerName: default-scheduler
`, `.spec.schedulerName: field not declared in schema`},
		"invalid policy": {good + `apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: bad}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {replicaScheduling: {replicaDivisionPreference: Weighted}}
`, "Weighted needs weightPreference"},
		"malformed yaml": {good + "kind: [unclosed\n", "malformed YAML or JSON"},
		"unknown kind":   {good + "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n", "does not serve example.com/v1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := flotilla(t, "apply", "-f", write(strings.ReplaceAll(name, " ", "-")+".yaml", tc.body))
			if err == nil {
				t.Fatalf("apply succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.says) {
				t.Errorf("output does not say %q:\n%s", tc.says, out)
			}
			if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "default", Name: "should-not-exist"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
				t.Errorf("the good document of a rejected batch was applied: %v", err)
			}
		})
	}
}
