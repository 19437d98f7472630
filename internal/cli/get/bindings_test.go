package get

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func cond(t string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}
}

func applied(cluster string, ready, replicas int, health string) workv1alpha1.ClusterStatus {
	return workv1alpha1.ClusterStatus{Cluster: cluster, Applied: true, Reason: workv1alpha1.ReasonApplied, Health: health,
		Status: &runtime.RawExtension{Raw: fmt.Appendf(nil, `{"replicas":%d,"readyReplicas":%d}`, replicas, ready)}}
}

func spec(kind, name string, policy workv1alpha1.PolicyReference, replicas int32, clusters ...workv1alpha1.TargetCluster) workv1alpha1.BindingSpec {
	apiVersion := "apps/v1"
	switch kind {
	case "ConfigMap":
		apiVersion = "v1"
	case "ClusterRole":
		apiVersion = "rbac.authorization.k8s.io/v1"
	}
	return workv1alpha1.BindingSpec{
		Resource: workv1alpha1.ObjectReference{APIVersion: apiVersion, Kind: kind, Name: name},
		Replicas: replicas, Policy: policy, Clusters: clusters,
	}
}

var (
	webSpread = workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: "web", Name: "web-spread"}
	global    = workv1alpha1.PolicyReference{Kind: "ClusterPropagationPolicy", Name: "global"}
)

func bindingObjects() []client.Object {
	meta := func(ns, name string, age time.Duration) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}
	}
	return []client.Object{
		&workv1alpha1.ResourceBinding{
			ObjectMeta: meta("web", "web-deployment", 5*time.Minute),
			Spec: spec("Deployment", "web", webSpread, 3,
				workv1alpha1.TargetCluster{Name: "member-cluster-1", Replicas: 2}, workv1alpha1.TargetCluster{Name: "member-cluster-2", Replicas: 1}),
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, ""),
					cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonConflict, "1 of 2 clusters failed"),
					cond(workv1alpha1.ConditionHealthy, metav1.ConditionFalse, workv1alpha1.HealthUnknown, "member-cluster-2 reports nothing"),
				},
				Clusters: []workv1alpha1.ClusterStatus{
					applied("member-cluster-1", 2, 2, workv1alpha1.HealthHealthy),
					{Cluster: "member-cluster-2", Reason: workv1alpha1.ReasonConflict, Health: workv1alpha1.HealthUnknown,
						Message: `deployments.apps "web" exists in the member and Flotilla does not manage it`},
				},
			},
		},
		&workv1alpha1.ResourceBinding{
			ObjectMeta: meta("web", "settings-configmap", 2*time.Minute),
			Spec:       spec("ConfigMap", "settings", global, 0),
			Status: workv1alpha1.BindingStatus{Conditions: []metav1.Condition{
				cond(workv1alpha1.ConditionScheduled, metav1.ConditionFalse, workv1alpha1.ReasonNoClusterFits, "no cluster fits"),
			}},
		},
		&workv1alpha1.ResourceBinding{
			ObjectMeta: meta("shop", "cart-deployment", 3*time.Hour),
			Spec: spec("Deployment", "cart", workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: "shop", Name: "everywhere"}, 3,
				workv1alpha1.TargetCluster{Name: "member-cluster-1", Replicas: 3}, workv1alpha1.TargetCluster{Name: "member-cluster-2", Replicas: 3}),
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, ""),
					cond(workv1alpha1.ConditionApplied, metav1.ConditionTrue, workv1alpha1.ReasonApplied, ""),
					cond(workv1alpha1.ConditionHealthy, metav1.ConditionTrue, workv1alpha1.HealthHealthy, ""),
				},
				Clusters: []workv1alpha1.ClusterStatus{
					applied("member-cluster-1", 3, 3, workv1alpha1.HealthHealthy),
					applied("member-cluster-2", 3, 3, workv1alpha1.HealthHealthy),
				},
			},
		},
		&workv1alpha1.ClusterResourceBinding{
			ObjectMeta: meta("", "web-reader-clusterrole", time.Hour),
			Spec: spec("ClusterRole", "web-reader", global, 0,
				workv1alpha1.TargetCluster{Name: "member-cluster-1"}, workv1alpha1.TargetCluster{Name: "member-cluster-2"}),
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, ""),
					cond(workv1alpha1.ConditionApplied, metav1.ConditionTrue, workv1alpha1.ReasonApplied, ""),
				},
				Clusters: []workv1alpha1.ClusterStatus{
					{Cluster: "member-cluster-1", Applied: true, Reason: workv1alpha1.ReasonApplied, Health: workv1alpha1.HealthHealthy},
					{Cluster: "member-cluster-2", Applied: true, Reason: workv1alpha1.ReasonApplied, Health: workv1alpha1.HealthHealthy},
				},
			},
		},
	}
}

func TestBindingsGolden(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(bindingObjects()...).Build()
	ctx := context.Background()
	for _, tc := range []struct {
		namespace, format, file string
		names                   []string
		cluster                 bool
	}{
		{namespace: "web", file: "bindings.txt"},
		{namespace: "web", format: "wide", file: "bindings-wide.txt"},
		{format: "wide", file: "bindings-all-wide.txt"},
		{namespace: "web", format: "name", file: "bindings-name.txt"},
		{namespace: "web", format: "yaml", file: "bindings.yaml", names: []string{"web-deployment"}},
		{namespace: "empty", file: "bindings-empty.txt"},
		{cluster: true, file: "clusterbindings.txt"},
		{cluster: true, format: "wide", file: "clusterbindings-wide.txt"},
		{cluster: true, format: "json", file: "clusterbindings.json"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			var err error
			if tc.cluster {
				err = ClusterResourceBindings(ctx, c, &b, tc.names, tc.format, now)
			} else {
				err = ResourceBindings(ctx, c, &b, tc.namespace, tc.names, tc.format, now)
			}
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}

	errors := map[string]struct {
		run  func() error
		want string
	}{
		"unknown name": {
			run: func() error {
				return ResourceBindings(ctx, c, &bytes.Buffer{}, "web", []string{"nope", "web-deployment"}, "", now)
			},
			want: "resourcebinding nope not found in namespace web",
		},
		"name across namespaces": {
			run: func() error {
				return ResourceBindings(ctx, c, &bytes.Buffer{}, "", []string{"web-deployment"}, "", now)
			},
			want: "a resourcebinding cannot be retrieved by name across all namespaces; name its namespace with -n",
		},
		"unknown cluster binding": {
			run:  func() error { return ClusterResourceBindings(ctx, c, &bytes.Buffer{}, []string{"nope"}, "", now) },
			want: "clusterresourcebinding nope not found",
		},
	}
	for name, tc := range errors {
		t.Run(name, func(t *testing.T) {
			if err := tc.run(); err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestResourceAliases(t *testing.T) {
	for arg, want := range map[string]string{
		"rb": "resourcebindings", "binding": "resourcebindings", "Bindings": "resourcebindings", "resourcebindings": "resourcebindings",
		"crb": "clusterresourcebindings", "clusterbindings": "clusterresourcebindings", "clusterresourcebinding": "clusterresourcebindings",
		"mcl": "clusters",
	} {
		if got, ok := Resource(arg); !ok || got != want {
			t.Errorf("Resource(%q) = %q, %t; want %q", arg, got, ok, want)
		}
	}
}
