// Package policyapi_test checks, against a real hub, that the policy CRDs
// accept the seed's documents and reject invalid policies with a clear
// message, so that kubectl users get the same protection as the CLI.
package policyapi_test

import (
	"context"
	"fmt"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.Run(m, framework.Options{}, &env))
}

func create(t *testing.T, doc string) error {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test document: %v", err)
	}
	if u.GetKind() == "PropagationPolicy" {
		u.SetNamespace("default")
	}
	return env.Hub.Create(context.Background(), u, client.DryRunAll)
}

const seedWeighted = `
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: myapp-propagation
spec:
  resourceSelectors:
    - apiVersion: apps/v1
      kind: Deployment
      name: myapp
  placement:
    clusterAffinity:
      clusterNames: [member-cluster-1, member-cluster-2]
    replicaScheduling:
      replicaDivisionPreference: Weighted
      replicaSchedulingType: Divided
      weightPreference:
        staticWeightList:
          - targetCluster:
              clusterNames: [member-cluster-1]
            weight: 2
          - targetCluster:
              clusterNames: [member-cluster-2]
            weight: 1
`

func TestSeedPoliciesAccepted(t *testing.T) {
	framework.Require(t, env)
	docs := map[string]string{
		"case 1 weighted": seedWeighted,
		"duplicated": `
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: myapp-propagation}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: myapp}]
  placement:
    clusterAffinity: {clusterNames: [cluster1, cluster2]}
    replicaScheduling: {replicaSchedulingType: Duplicated}
`,
		"cluster policy for every ConfigMap": `
apiVersion: policy.flotilla.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: myapp-cluster-propagation}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap}]
  placement:
    clusterAffinity: {clusterNames: [cluster1, cluster2]}
`,
		"fallback groups, field selector, spread, dynamic weight": `
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: rich}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, labelSelector: {matchLabels: {app: web}}}]
  priority: 10
  preemption: Always
  conflictResolution: Overwrite
  placement:
    clusterAffinities:
    - affinityName: primary
      fieldSelector: {matchExpressions: [{key: region, operator: In, values: [cloud-a]}]}
    - affinityName: backup
      labelSelector: {matchLabels: {environment: production}}
    clusterTolerations: [{key: maintenance, operator: Exists, effect: NoSchedule}]
    spreadConstraints: [{spreadByField: region, minGroups: 1, maxGroups: 2}]
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference: {dynamicWeight: AvailableReplicas}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if err := create(t, doc); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func TestInvalidPoliciesRejected(t *testing.T) {
	framework.Require(t, env)
	cases := map[string]struct{ doc, says string }{
		"no selectors": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec: {resourceSelectors: []}
`, "spec.resourceSelectors"},
		"name and labelSelector": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: a, labelSelector: {matchLabels: {a: b}}}]
`, "name and labelSelector are exclusive"},
		"affinity and affinities": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {clusterNames: [a]}
    clusterAffinities: [{affinityName: x, clusterNames: [b]}]
`, "clusterAffinity and clusterAffinities are exclusive"},
		"weighted without weights": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling: {replicaSchedulingType: Divided, replicaDivisionPreference: Weighted}
`, "Weighted needs weightPreference"},
		"division preference with Duplicated": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling: {replicaSchedulingType: Duplicated, replicaDivisionPreference: Aggregated}
`, "applies only to replicaSchedulingType Divided"},
		"static and dynamic weights": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling:
      replicaDivisionPreference: Weighted
      weightPreference:
        dynamicWeight: AvailableReplicas
        staticWeightList: [{targetCluster: {clusterNames: [a]}, weight: 1}]
`, "exactly one of staticWeightList and dynamicWeight"},
		"zero weight": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    replicaScheduling:
      replicaDivisionPreference: Weighted
      weightPreference: {staticWeightList: [{targetCluster: {clusterNames: [a]}, weight: 0}]}
`, "weight"},
		"unknown scheduling type": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {replicaScheduling: {replicaSchedulingType: Spread}}
`, "Unsupported value: \"Spread\""},
		"field selector on an unknown field": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {fieldSelector: {matchExpressions: [{key: color, operator: In, values: [red]}]}}
`, "Unsupported value: \"color\""},
		"In without values": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {fieldSelector: {matchExpressions: [{key: region, operator: In}]}}
`, "In and NotIn need values"},
		"spread by field and label": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {spreadConstraints: [{spreadByField: region, spreadByLabel: team}]}
`, "exactly one of spreadByField and spreadByLabel"},
		"min groups above max": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement: {spreadConstraints: [{spreadByField: region, minGroups: 3, maxGroups: 2}]}
`, "minGroups must not exceed maxGroups"},
		"unknown conflict resolution": {`
apiVersion: policy.flotilla.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: v1, kind: ConfigMap}]
  conflictResolution: Merge
`, "Unsupported value: \"Merge\""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := create(t, tc.doc)
			if err == nil {
				t.Fatalf("accepted; want a rejection saying %q", tc.says)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("rejection %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestPolicyNamespaceConfined: a PropagationPolicy may not select in another
// namespace. The rule reads metadata.namespace, which a CRD's CEL cannot, so
// a ValidatingAdmissionPolicy holds it; it takes effect moments after
// install, hence the polling.
func TestPolicyNamespaceConfined(t *testing.T) {
	framework.Require(t, env)
	doc := `
apiVersion: policy.flotilla.io/v1alpha1
kind: PropagationPolicy
metadata: {name: p}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, namespace: other}]
`
	framework.Eventually(t, time.Minute, func() error {
		err := create(t, doc)
		if err == nil {
			var vap admissionregistrationv1.ValidatingAdmissionPolicy
			gerr := env.Hub.Get(context.Background(), client.ObjectKey{Name: "flotilla-propagationpolicy-namespace"}, &vap)
			return fmt.Errorf("accepted a selector for namespace other in namespace default (admission policy: %v, status %+v)", gerr, vap.Status)
		}
		if !strings.Contains(err.Error(), "selects only in its own namespace (default)") {
			return fmt.Errorf("rejection %q does not explain the rule", err)
		}
		return nil
	})
	same := strings.Replace(doc, "namespace: other", "namespace: default", 1)
	if err := create(t, same); err != nil {
		t.Errorf("selector for its own namespace rejected: %v", err)
	}
}
