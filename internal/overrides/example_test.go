package overrides_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/overrides"
)

// The propagation pipeline's use: match once per template, apply once per
// cluster to a copy.
func Example() {
	template := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"namespace": "default", "name": "web"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "web", "image": "nginx:1.25", "args": []any{"--a"}}},
		}}},
	}}
	cops := []policyv1alpha1.ClusterOverridePolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "eu-mirror"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}},
			OverrideRules: []policyv1alpha1.RuleWithCluster{{
				TargetCluster: &policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"region": "eu"}}},
				Overriders: policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{{
					Component: policyv1alpha1.ImageComponentRegistry, Operator: policyv1alpha1.OverriderOpReplace, Value: "registry.eu",
				}}},
			}},
		},
	}}
	ops := []policyv1alpha1.OverridePolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
			OverrideRules: []policyv1alpha1.RuleWithCluster{{
				Overriders: policyv1alpha1.Overriders{
					ArgsOverrider:   []policyv1alpha1.CommandArgsOverrider{{ContainerName: "web", Operator: policyv1alpha1.OverriderOpAdd, Value: []string{"--b"}}},
					LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"tier": "gold"}}},
				},
			}},
		},
	}}

	policies := overrides.Matching(template, ops, cops)
	for _, name := range []string{"eu-1", "us-1"} {
		cluster := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"region": name[:2]}}}
		obj := template.DeepCopy()
		applied, err := overrides.Apply(obj, cluster, policies)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(name + ":")
		for _, a := range applied {
			fmt.Println(" ", a.Policy)
			for _, c := range a.Changes {
				fmt.Println("   ", c)
			}
		}
	}
	// Output:
	// eu-1:
	//   ClusterOverridePolicy/eu-mirror
	//     spec.template.spec.containers[web].image: nginx:1.25 -> registry.eu/nginx:1.25
	//   OverridePolicy/default/web
	//     spec.template.spec.containers[web].args: [--a] -> [--a --b]
	//     metadata.labels.tier: (none) -> gold
	// us-1:
	//   OverridePolicy/default/web
	//     spec.template.spec.containers[web].args: [--a] -> [--a --b]
	//     metadata.labels.tier: (none) -> gold
}
