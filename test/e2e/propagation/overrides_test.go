package propagation_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// overridePolicy returns an OverridePolicy of ns that selects the
// Deployment name and applies rules.
func overridePolicy(ns, policyName, name string, rules ...policyv1alpha1.RuleWithCluster) *policyv1alpha1.OverridePolicy {
	return &policyv1alpha1.OverridePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policyName},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: name}},
			OverrideRules:     rules,
		},
	}
}

func onCluster(name string, o policyv1alpha1.Overriders) policyv1alpha1.RuleWithCluster {
	return policyv1alpha1.RuleWithCluster{TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{name}}, Overriders: o}
}

// TestOverrides: per-cluster image tags and args, the deterministic order of
// several policies (ClusterOverridePolicy, then OverridePolicies by name),
// what describe shows, and an invalid JSON patch that is reported while the
// member keeps its last good object.
func TestOverrides(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns = "overrides"
	createNamespace(t, ns)
	members := []string{"member-cluster-1", "member-cluster-2"}

	tags := overridePolicy(ns, "a-tags", "web",
		onCluster("member-cluster-1", policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{
			{Component: policyv1alpha1.ImageComponentTag, Operator: policyv1alpha1.OverriderOpReplace, Value: "v2"}}}),
		onCluster("member-cluster-2", policyv1alpha1.Overriders{ArgsOverrider: []policyv1alpha1.CommandArgsOverrider{
			{ContainerName: "app", Operator: policyv1alpha1.OverriderOpAdd, Value: []string{"--region=b"}}}}))
	tierLabel := func(v string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{
			{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"tier": v}}}}
	}
	fleetWide := &policyv1alpha1.ClusterOverridePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "overrides-test-tier"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns}},
			OverrideRules:     []policyv1alpha1.RuleWithCluster{{Overriders: tierLabel("cluster-wide")}},
		},
	}
	t.Cleanup(func() { _ = env.Hub.Delete(ctx, fleetWide) })
	// Same specificity: applied by name, so b-tier's value wins over a-tags'
	// (which sets none) and over the ClusterOverridePolicy's.
	tier := overridePolicy(ns, "b-tier", "web", policyv1alpha1.RuleWithCluster{Overriders: tierLabel("namespaced")})
	create(t, policy(ns, "web", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, members...),
		fleetWide, tags, tier, deployment(ns, "web", 1))

	framework.Eventually(t, timeout, func() error {
		d1, err := memberDeployment(t, "member-cluster-1", ns, "web")
		if err != nil || d1 == nil {
			return fmt.Errorf("member-cluster-1: %v %v", d1, err)
		}
		d2, err := memberDeployment(t, "member-cluster-2", ns, "web")
		if err != nil || d2 == nil {
			return fmt.Errorf("member-cluster-2: %v %v", d2, err)
		}
		c1, c2 := d1.Spec.Template.Spec.Containers[0], d2.Spec.Template.Spec.Containers[0]
		switch {
		case c1.Image != "example.com/web:v2" || len(c1.Args) != 0:
			return fmt.Errorf("member-cluster-1: image %s args %v", c1.Image, c1.Args)
		case c2.Image != "example.com/web:v1" || !slices.Equal(c2.Args, []string{"--region=b"}):
			return fmt.Errorf("member-cluster-2: image %s args %v", c2.Image, c2.Args)
		case d1.Labels["tier"] != "namespaced" || d2.Labels["tier"] != "namespaced":
			return fmt.Errorf("tier labels %q and %q, want the last policy's", d1.Labels["tier"], d2.Labels["tier"])
		}
		return nil
	})
	b, err := binding(t, ns, "web-deployment")
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range b.Status.Clusters {
		var order []string
		for _, o := range cs.Overrides {
			order = append(order, o.Policy)
		}
		want := []string{"ClusterOverridePolicy/overrides-test-tier", "OverridePolicy/overrides/a-tags", "OverridePolicy/overrides/b-tier"}
		if !slices.Equal(order, want) {
			t.Errorf("%s: overrides applied in order %v, want %v", cs.Cluster, order, want)
		}
	}
	out, err := flotilla(t, "describe", "deployment/web", "-n", ns)
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	for _, want := range []string{"Overrides:", "OverridePolicy/overrides/a-tags:", "example.com/web:v1 -> example.com/web:v2", "--region=b"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe does not show %q:\n%s", want, out)
		}
	}

	// A JSON patch of a path that does not exist: reported on the binding,
	// and the members keep the last good object.
	bad := overridePolicy(ns, "c-broken", "web", policyv1alpha1.RuleWithCluster{Overriders: policyv1alpha1.Overriders{
		Plaintext: []policyv1alpha1.PlaintextOverrider{{Path: "/spec/template/spec/nosuchfield", Operator: policyv1alpha1.OverriderOpReplace,
			Value: &apiextensionsv1.JSON{Raw: []byte(`"x"`)}}},
		LabelsOverrider: tierLabel("broken").LabelsOverrider,
	}})
	create(t, bad)
	framework.Eventually(t, timeout, func() error {
		b, err := binding(t, ns, "web-deployment")
		if err != nil {
			return err
		}
		for _, cs := range b.Status.Clusters {
			if cs.Reason != workv1alpha1.ReasonOverrideFailed || !strings.Contains(cs.Message, "OverridePolicy/overrides/c-broken rule 0") {
				return fmt.Errorf("%s: %s: %s", cs.Cluster, cs.Reason, cs.Message)
			}
		}
		return nil
	})
	for _, m := range members {
		d, err := memberDeployment(t, m, ns, "web")
		if err != nil || d == nil || d.Labels["tier"] != "namespaced" {
			t.Errorf("%s: the last good object is gone or changed: %v %v", m, d, err)
		}
	}
}
