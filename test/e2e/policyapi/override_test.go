package policyapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// createOverride dry-runs doc on the hub; an OverridePolicy goes to the
// default namespace.
func createOverride(t *testing.T, doc string) error {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test document: %v", err)
	}
	if u.GetKind() == "OverridePolicy" {
		u.SetNamespace("default")
	}
	return env.Hub.Create(context.Background(), u, client.DryRunAll)
}

func TestOverridePoliciesAccepted(t *testing.T) {
	framework.Require(t, env)
	docs := map[string]string{
		// Karmada's documented examples, after a change of group.
		"Karmada image, command and plaintext examples": `
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: example}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, name: myapp}
  overrideRules:
  - targetCluster:
      clusterNames: [member1]
    overriders:
      imageOverrider:
      - {component: Registry, operator: add, value: test-repo}
      - {component: Repository, operator: replace, value: myapp2}
      - {component: Tag, operator: remove}
  - targetCluster:
      labelSelector: {matchLabels: {cluster: member1}}
    overriders:
      commandOverrider:
      - {containerName: myapp, operator: add, value: [--cluster=member1]}
      - {containerName: myapp, operator: remove, value: [--parameter1=foo]}
  - targetCluster:
      fieldSelector: {matchExpressions: [{key: region, operator: In, values: [cn-north-1]}]}
      exclude: [member2]
    overriders:
      plaintext:
      - {path: /spec/replicas, operator: replace, value: 2}
      - {path: /spec/template/spec/containers/-, operator: add, value: {name: side, image: envoy}}
      - {path: /spec/paused, operator: remove}
`,
		"cluster policy with every overrider": `
apiVersion: policy.flotilla.io/v1alpha1
kind: ClusterOverridePolicy
metadata: {name: everything}
spec:
  resourceSelectors:
  - {apiVersion: apps/v1, kind: Deployment, labelSelector: {matchLabels: {app: web}}}
  - {apiVersion: v1, kind: ConfigMap, namespace: default}
  overrideRules:
  - overriders:
      imageOverrider:
      - predicate: {path: /spec/template/spec/containers/0/image}
        component: Registry
        operator: replace
        value: registry.eu
      argsOverrider:
      - {containerName: web, operator: replace, value: [--a, --b]}
      labelsOverrider:
      - {operator: add, value: {tier: gold}}
      annotationsOverrider:
      - {operator: remove, value: {note: ""}}
      plaintext:
      - {path: /data/key, operator: add, value: "text"}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if err := createOverride(t, doc); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func TestInvalidOverridePoliciesRejected(t *testing.T) {
	framework.Require(t, env)
	const head = `
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
`
	cases := map[string]struct{ doc, says string }{
		"no selectors": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: ClusterOverridePolicy
metadata: {name: p}
spec:
  resourceSelectors: []
  overrideRules: [{overriders: {plaintext: [{path: /spec/replicas, operator: replace, value: 1}]}}]
`, "spec.resourceSelectors"},
		"no rules": {head + `
  overrideRules: []
`, "spec.overrideRules"},
		"a rule without overriders": {head + `
  overrideRules: [{targetCluster: {clusterNames: [a]}, overriders: {}}]
`, "set at least one overrider"},
		"a rule with empty overrider lists": {head + `
  overrideRules: [{overriders: {plaintext: [], imageOverrider: []}}]
`, "set at least one overrider"},
		"name and labelSelector": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: a, labelSelector: {matchLabels: {a: b}}}]
  overrideRules: [{overriders: {plaintext: [{path: /spec/replicas, operator: replace, value: 1}]}}]
`, "name and labelSelector are exclusive"},
		"plaintext path not a pointer": {head + `
  overrideRules: [{overriders: {plaintext: [{path: spec/replicas, operator: replace, value: 1}]}}]
`, "path is a JSON pointer: it must start with /"},
		"plaintext on the name": {head + `
  overrideRules: [{overriders: {plaintext: [{path: /metadata/name, operator: replace, value: other}]}}]
`, "an override must not change the object's apiVersion, kind, name or namespace"},
		"plaintext unknown operator": {head + `
  overrideRules: [{overriders: {plaintext: [{path: /spec/replicas, operator: move, value: 1}]}}]
`, `Unsupported value: "move"`},
		"image add without value": {head + `
  overrideRules: [{overriders: {imageOverrider: [{component: Registry, operator: add}]}}]
`, "add and replace need a value"},
		"image unknown component": {head + `
  overrideRules: [{overriders: {imageOverrider: [{component: Digest, operator: replace, value: x}]}}]
`, `Unsupported value: "Digest"`},
		"image predicate path not a pointer": {head + `
  overrideRules: [{overriders: {imageOverrider: [{predicate: {path: spec/image}, component: Tag, operator: replace, value: "2"}]}}]
`, "path is a JSON pointer: it must start with /"},
		"command without container": {head + `
  overrideRules: [{overriders: {commandOverrider: [{operator: add, value: [--x]}]}}]
`, "containerName: Required value"},
		"args unknown operator": {head + `
  overrideRules: [{overriders: {argsOverrider: [{containerName: web, operator: append, value: [--x]}]}}]
`, `Unsupported value: "append"`},
		"labels without value": {head + `
  overrideRules: [{overriders: {labelsOverrider: [{operator: add}]}}]
`, "value: Required value"},
		"annotations with an empty value": {head + `
  overrideRules: [{overriders: {annotationsOverrider: [{operator: add, value: {}}]}}]
`, "value: Invalid value"},
		"target cluster In without values": {head + `
  overrideRules:
  - targetCluster: {fieldSelector: {matchExpressions: [{key: region, operator: In}]}}
    overriders: {plaintext: [{path: /spec/replicas, operator: replace, value: 1}]}
`, "In and NotIn need values"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := createOverride(t, tc.doc)
			if err == nil {
				t.Fatalf("accepted; want a rejection saying %q", tc.says)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("rejection %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestOverridePolicyTypedRoundTrip: the Go types are in the client's scheme
// and survive the API server's schema (no field is pruned).
func TestOverridePolicyTypedRoundTrip(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	cop := &policyv1alpha1.ClusterOverridePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-roundtrip"},
		Spec: policyv1alpha1.OverrideSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}},
			OverrideRules: []policyv1alpha1.RuleWithCluster{{
				TargetCluster: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}},
				Overriders: policyv1alpha1.Overriders{
					ImageOverrider: []policyv1alpha1.ImageOverrider{{
						Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/template/spec/containers/0/image"},
						Component: policyv1alpha1.ImageComponentTag, Operator: policyv1alpha1.OverriderOpReplace, Value: "1.26",
					}},
					LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: policyv1alpha1.OverriderOpAdd, Value: map[string]string{"tier": "gold"}}},
				},
			}},
		},
	}
	if err := env.Hub.Create(ctx, cop); err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = env.Hub.Delete(ctx, cop) })
	var got policyv1alpha1.ClusterOverridePolicy
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: cop.Name}, &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	o := got.Spec.OverrideRules[0].Overriders
	if len(o.ImageOverrider) != 1 || o.ImageOverrider[0].Predicate == nil || o.ImageOverrider[0].Value != "1.26" || o.LabelsOverrider[0].Value["tier"] != "gold" {
		t.Errorf("round trip lost fields: %+v", got.Spec)
	}
}

func TestOverridePolicyNames(t *testing.T) {
	framework.Require(t, env)
	dc, err := discovery.NewDiscoveryClientForConfig(env.HubConfig)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(policyv1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		short      string
		namespaced bool
	}{
		"overridepolicies":        {"op", true},
		"clusteroverridepolicies": {"cop", false},
	}
	for _, r := range list.APIResources {
		w, ok := want[r.Name]
		if !ok {
			continue
		}
		delete(want, r.Name)
		if !slices.Contains(r.ShortNames, w.short) || r.Namespaced != w.namespaced || !slices.Contains(r.Categories, "flotilla") {
			t.Errorf("%s: shortNames %v, namespaced %v, categories %v; want %s, %v, flotilla", r.Name, r.ShortNames, r.Namespaced, r.Categories, w.short, w.namespaced)
		}
	}
	for name := range want {
		t.Errorf("the hub does not serve %s", name)
	}
}

// TestOverridePolicyAdmission: the rules a CRD cannot hold, held by a
// ValidatingAdmissionPolicy: a plaintext value for add and replace only, and
// an OverridePolicy confined to its own namespace.
func TestOverridePolicyAdmission(t *testing.T) {
	framework.Require(t, env)
	cases := map[string]struct{ doc, want string }{
		"replace without a value": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: novalue}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  overrideRules:
  - overriders:
      plaintext: [{path: /spec/replicas, operator: replace}]
`, "add and replace need a value"},
		"remove with a value": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: ClusterOverridePolicy
metadata: {name: removevalue}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  overrideRules:
  - overriders:
      plaintext: [{path: /spec/replicas, operator: remove, value: 3}]
`, "remove takes none"},
		"another namespace": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: elsewhere}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, namespace: other}]
  overrideRules:
  - overriders:
      labelsOverrider: [{operator: add, value: {a: b}}]
`, "selects only in its own namespace (default)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			framework.Eventually(t, time.Minute, func() error {
				err := createOverride(t, tc.doc)
				if err == nil {
					return fmt.Errorf("accepted")
				}
				if !strings.Contains(err.Error(), tc.want) {
					return fmt.Errorf("rejection %q does not say %q", err, tc.want)
				}
				return nil
			})
		})
	}
	ok := `
apiVersion: policy.flotilla.io/v1alpha1
kind: OverridePolicy
metadata: {name: fine}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, namespace: default}]
  overrideRules:
  - overriders:
      plaintext: [{path: /spec/replicas, operator: replace, value: 2}, {path: /spec/paused, operator: remove}]
`
	if err := createOverride(t, ok); err != nil {
		t.Errorf("a valid policy was rejected: %v", err)
	}
}
