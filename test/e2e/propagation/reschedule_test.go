package propagation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// TestRescheduleWhenClusterLabelsChange: a policy that selects clusters by
// label follows the labels.
func TestRescheduleWhenClusterLabelsChange(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "labels")
	p := policy("labels", "blue", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "blue"})
	p.Spec.Placement.ClusterAffinity = &policyv1alpha1.ClusterAffinity{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "blue"}},
	}
	create(t, deployment("labels", "blue", 1), p)
	setLabel := func(cluster, value string) {
		t.Helper()
		var c clusterv1alpha1.Cluster
		if err := env.Hub.Get(ctx, client.ObjectKey{Name: cluster}, &c); err != nil {
			t.Fatal(err)
		}
		orig := c.DeepCopy()
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		if value == "" {
			delete(c.Labels, "tier")
		} else {
			c.Labels["tier"] = value
		}
		if err := env.Hub.Patch(ctx, &c, client.MergeFrom(orig)); err != nil {
			t.Fatal(err)
		}
	}
	present := func(cluster string, want bool) func() error {
		return func() error {
			d, err := memberDeployment(t, cluster, "labels", "blue")
			if err != nil {
				return err
			}
			if (d != nil) != want {
				return fmt.Errorf("%s runs blue: %v, want %v", cluster, d != nil, want)
			}
			return nil
		}
	}
	setLabel("member-cluster-2", "blue")
	t.Cleanup(func() { setLabel("member-cluster-2", "") })
	framework.Eventually(t, timeout, present("member-cluster-2", true))
	if err := present("member-cluster-1", false)(); err != nil {
		t.Fatal(err)
	}
	setLabel("member-cluster-1", "blue")
	t.Cleanup(func() { setLabel("member-cluster-1", "") })
	framework.Eventually(t, timeout, present("member-cluster-1", true))
	setLabel("member-cluster-2", "")
	framework.Eventually(t, timeout, present("member-cluster-2", false))
	if err := present("member-cluster-1", true)(); err != nil {
		t.Fatal(err)
	}
}

var widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.flotilla.io
spec:
  group: example.flotilla.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

// TestCRDInstalledAtRunTime: a CRD created after the hub started is
// propagated (the CRD itself, by a ClusterPropagationPolicy), and so are
// its custom resources once the members serve it.
func TestCRDInstalledAtRunTime(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	crdPolicy := &policyv1alpha1.ClusterPropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets-crd"},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "widgets.example.flotilla.io"}},
			Placement: policyv1alpha1.Placement{ClusterAffinity: &policyv1alpha1.ClusterAffinity{
				ClusterNames: []string{"member-cluster-1", "member-cluster-2"}}},
		},
	}
	createNamespace(t, "widgets")
	widgetPolicy := policy("widgets", "widgets", policyv1alpha1.ResourceSelector{APIVersion: "example.flotilla.io/v1", Kind: "Widget"}, "member-cluster-1", "member-cluster-2")
	// The policies come first: the kind they name does not exist yet.
	create(t, crdPolicy, widgetPolicy)
	t.Cleanup(func() { _ = env.Hub.Delete(context.Background(), crdPolicy) })

	crd := &unstructured.Unstructured{}
	if err := yamlToUnstructured(widgetCRD, crd); err != nil {
		t.Fatal(err)
	}
	if err := env.Hub.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	hub := hubDynamic(t)
	gvr := schema.GroupVersionResource{Group: "example.flotilla.io", Version: "v1", Resource: "widgets"}
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.flotilla.io/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "gear", "namespace": "widgets"},
		"spec":     map[string]any{"size": int64(3)},
	}}
	framework.Eventually(t, timeout, func() error {
		_, err := hub.Resource(gvr).Namespace("widgets").Create(ctx, w, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	framework.Eventually(t, 2*timeout, func() error {
		for _, c := range []string{"member-cluster-1", "member-cluster-2"} {
			got, err := memberDynamic(t, c).Resource(gvr).Namespace("widgets").Get(ctx, "gear", metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("%s: %v", c, err)
			}
			if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 3 {
				return fmt.Errorf("%s: size %d", c, size)
			}
		}
		return nil
	})
}

// TestNothingFits: a placement no cluster satisfies leaves the binding
// Scheduled=False with each cluster's reason, and nothing in the members.
func TestNothingFits(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "nofit")
	p := policy("nofit", "nowhere", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "lost"})
	p.Spec.Placement.ClusterAffinity = &policyv1alpha1.ClusterAffinity{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "staging"}},
	}
	create(t, deployment("nofit", "lost", 2), p)
	_ = ctx
	framework.Eventually(t, timeout, func() error {
		b, err := binding(t, "nofit", "lost-deployment")
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionScheduled)
		if c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("Scheduled condition %+v, want False", c)
		}
		for _, m := range allMembers {
			if !strings.Contains(c.Message, m) {
				return fmt.Errorf("message does not give %s's reason: %s", m, c.Message)
			}
		}
		return nil
	})
	for _, m := range allMembers {
		if d, err := memberDeployment(t, m, "nofit", "lost"); err != nil || d != nil {
			t.Errorf("%s: lost is there (%v)", m, err)
		}
	}
}
