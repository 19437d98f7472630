package describe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/restmapper"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

// testMapper is the hub's discovery, with kubectl's short names.
func testMapper(t *testing.T) meta.RESTMapper {
	t.Helper()
	res := func(name, singular, kind string, namespaced bool, short ...string) metav1.APIResource {
		return metav1.APIResource{Name: name, SingularName: singular, Kind: kind, Namespaced: namespaced, ShortNames: short,
			Verbs: metav1.Verbs{"get", "list"}}
	}
	dc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			res("configmaps", "configmap", "ConfigMap", true, "cm"), res("events", "event", "Event", true, "ev"),
			res("namespaces", "namespace", "Namespace", false, "ns")}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{res("deployments", "deployment", "Deployment", true, "deploy")}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{res("clusterroles", "clusterrole", "ClusterRole", false)}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{res("widgets", "widget", "Widget", true, "wd")}},
		{GroupVersion: "policy.flotilla.io/v1alpha1", APIResources: []metav1.APIResource{
			res("propagationpolicies", "propagationpolicy", "PropagationPolicy", true, "pp")}},
		{GroupVersion: "work.flotilla.io/v1alpha1", APIResources: []metav1.APIResource{
			res("resourcebindings", "resourcebinding", "ResourceBinding", true, "rb"),
			res("clusterresourcebindings", "clusterresourcebinding", "ClusterResourceBinding", false, "crb")}},
	}}}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(groups), dc, func(string) {})
}

func TestResolveKind(t *testing.T) {
	mapper := testMapper(t)
	for arg, want := range map[string]string{
		"deploy": "Deployment.apps", "deployment": "Deployment.apps", "deployments": "Deployment.apps", "Deployment": "Deployment.apps",
		"deployments.apps": "Deployment.apps", "deployments.v1.apps": "Deployment.apps", "Deployment.apps": "Deployment.apps",
		"cm": "ConfigMap", "configmaps": "ConfigMap",
		"clusterrole": "ClusterRole.rbac.authorization.k8s.io",
		"wd":          "Widget.example.com", "widgets.example.com": "Widget.example.com", "Widget": "Widget.example.com",
	} {
		m, err := ResolveKind(mapper, arg)
		if err != nil {
			t.Errorf("ResolveKind(%q): %v", arg, err)
			continue
		}
		if got := m.GroupVersionKind.GroupKind().String(); got != want {
			t.Errorf("ResolveKind(%q) = %s, want %s", arg, got, want)
		}
	}
	if _, err := ResolveKind(mapper, "gadgets"); err == nil || !strings.Contains(err.Error(), `the hub serves no resource type "gadgets"`) {
		t.Errorf("unknown kind: got %v", err)
	}
}

func event(kind, name, namespace, typ, reason, msg string, age time.Duration) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("%s.%s.%d", name, strings.ToLower(reason), age)},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: namespace},
		Type:           typ, Reason: reason, Message: msg, LastTimestamp: ago(age), ReportingController: "flotilla-hub",
	}
}

func cond(t string, s metav1.ConditionStatus, reason, msg string, age time.Duration) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: ago(age)}
}

func rawStatus(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }

// fleet is a hub with:
//   - Deployment web/web, claimed, scheduled on two clusters, in conflict in
//     member-cluster-2;
//   - ConfigMap web/settings, claimed but fitting no cluster;
//   - ConfigMap web/notes, claimed by no policy;
//   - ClusterRole web-reader, claimed, not bound yet;
//   - Widget web/blue (a CRD's object), whose binding is for an earlier blue;
//   - ResourceBinding web/api-deployment, whose template is gone.
func fleet(t *testing.T) (client.Client, meta.RESTMapper) {
	mapper := testMapper(t)
	claim := func(policy string) map[string]string { return map[string]string{workv1alpha1.AnnotationPolicy: policy} }
	webPolicy := workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: "web", Name: "web-spread"}
	global := workv1alpha1.PolicyReference{Kind: "ClusterPropagationPolicy", Name: "global"}

	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"namespace": "web", "name": "blue", "uid": "widget-2",
			"annotations": map[string]any{workv1alpha1.AnnotationPolicy: "PropagationPolicy/web/web-spread"}},
		"spec":   map[string]any{"color": "blue"},
		"status": map[string]any{"phase": "Painted"},
	}}
	objs := []client.Object{
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web", UID: "web-1", Annotations: claim("PropagationPolicy/web/web-spread")},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
			Status: appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse}, {Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue}}},
		},
		&workv1alpha1.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web-deployment", CreationTimestamp: ago(10 * time.Minute)},
			Spec: workv1alpha1.BindingSpec{
				Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web", UID: "web-1"},
				Replicas: 3, Policy: webPolicy,
				Dependencies: []workv1alpha1.ObjectReference{
					{APIVersion: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-config"},
					{APIVersion: "v1", Kind: "Secret", Namespace: "web", Name: "web-tls"}},
				Clusters: []workv1alpha1.TargetCluster{{Name: "member-cluster-1", Replicas: 2}, {Name: "member-cluster-2", Replicas: 1}},
			},
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, "3 replicas on 2 of 3 clusters", 9*time.Minute),
					cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonConflict, "1 of 2 clusters failed: member-cluster-2 (Conflict)", 8*time.Minute),
					cond(workv1alpha1.ConditionHealthy, metav1.ConditionFalse, "Unhealthy", "1 of 2 clusters healthy", 8*time.Minute),
				},
				Decisions: []workv1alpha1.ClusterDecision{
					{Cluster: "member-cluster-1", Chosen: true, Replicas: 2, Reason: "fits; weight 2 of 3"},
					{Cluster: "member-cluster-2", Chosen: true, Replicas: 1, Reason: "fits; weight 1 of 3"},
					{Cluster: "edge-cluster", Reason: "taint maintenance:NoSchedule is not tolerated"},
				},
				Clusters: []workv1alpha1.ClusterStatus{
					{Cluster: "member-cluster-1", Applied: true, Reason: workv1alpha1.ReasonApplied, Message: "applied generation 4",
						Health: workv1alpha1.HealthHealthy, Generation: 4, ObservedGeneration: 4,
						Status:       rawStatus(`{"replicas":2,"readyReplicas":2,"updatedReplicas":2,"availableReplicas":2}`),
						Dependencies: []string{"ConfigMap/web-config", "Secret/web-tls"}},
					{Cluster: "member-cluster-2", Reason: workv1alpha1.ReasonConflict, Health: workv1alpha1.HealthUnknown,
						Message: `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas; deployments.apps "web" exists in the member and no Flotilla binding owns it (conflictResolution: Abort)`},
				},
			},
		},

		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "settings", UID: "settings-1", Annotations: claim("ClusterPropagationPolicy/global")}},
		&workv1alpha1.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "settings-configmap", CreationTimestamp: ago(time.Minute)},
			Spec: workv1alpha1.BindingSpec{
				Resource: workv1alpha1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "web", Name: "settings", UID: "settings-1"},
				Policy:   global,
			},
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionFalse, workv1alpha1.ReasonNoClusterFits, "0 of 3 clusters fit: 2 lack the label tier=gold, 1 is not ready", 50*time.Second),
				},
				Decisions: []workv1alpha1.ClusterDecision{
					{Cluster: "edge-cluster", Reason: "cluster is not ready (Unreachable)"},
					{Cluster: "member-cluster-1", Reason: "clusterAffinity: label tier=gold is missing"},
					{Cluster: "member-cluster-2", Reason: "clusterAffinity: label tier=gold is missing"},
				},
			},
		},

		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "notes", UID: "notes-1"}},

		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "web-reader", UID: "reader-1", Annotations: claim("ClusterPropagationPolicy/global")}},

		widget,
		&workv1alpha1.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "blue-widget", CreationTimestamp: ago(time.Hour)},
			Spec: workv1alpha1.BindingSpec{
				Resource:   workv1alpha1.ObjectReference{APIVersion: "example.com/v1", Kind: "Widget", Namespace: "web", Name: "blue", UID: "widget-1"},
				Policy:     webPolicy,
				Clusters:   []workv1alpha1.TargetCluster{{Name: "member-cluster-1"}},
				Suspension: &policyv1alpha1.Suspension{DispatchingOnClusters: &policyv1alpha1.SuspendClusters{ClusterNames: []string{"member-cluster-1"}}},
			},
			Status: workv1alpha1.BindingStatus{
				Conditions: []metav1.Condition{
					cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, "", time.Hour),
					cond(workv1alpha1.ConditionApplied, metav1.ConditionTrue, workv1alpha1.ReasonApplied, "", time.Hour),
				},
				Decisions: []workv1alpha1.ClusterDecision{{Cluster: "member-cluster-1", Chosen: true, Reason: "fits"}},
				Clusters: []workv1alpha1.ClusterStatus{
					{Cluster: "member-cluster-1", Applied: true, Reason: workv1alpha1.ReasonApplied, Health: workv1alpha1.HealthHealthy},
					{Cluster: "member-cluster-3", Applied: true, Reason: workv1alpha1.ReasonApplied, Health: workv1alpha1.HealthHealthy},
				},
			},
		},

		// A binding whose template is gone.
		&workv1alpha1.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "api-deployment", CreationTimestamp: ago(time.Hour)},
			Spec: workv1alpha1.BindingSpec{
				Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "api", UID: "api-1"},
				Replicas: 1, Policy: webPolicy,
				Clusters: []workv1alpha1.TargetCluster{{Name: "member-cluster-1", Replicas: 1}},
			},
		},

		event("Deployment", "web", "web", "Normal", "Claimed", "claimed by PropagationPolicy web/web-spread", 10*time.Minute),
		event("ResourceBinding", "web-deployment", "web", "Normal", "Scheduled", "3 replicas on 2 of 3 clusters", 9*time.Minute),
		event("ResourceBinding", "web-deployment", "web", "Warning", "ApplyFailed", "member-cluster-2: Conflict: deployments.apps \"web\" exists in the member", 8*time.Minute),
		event("Deployment", "other", "web", "Normal", "Claimed", "not about web", time.Minute),
		event("ResourceBinding", "settings-configmap", "web", "Warning", "NoClusterFits", "0 of 3 clusters fit", 50*time.Second),
	}
	field := func(f func(*corev1.Event) string) client.IndexerFunc {
		return func(o client.Object) []string { return []string{f(o.(*corev1.Event))} }
	}
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithRESTMapper(mapper).WithObjects(objs...).
		WithIndex(&corev1.Event{}, "involvedObject.kind", field(func(e *corev1.Event) string { return e.InvolvedObject.Kind })).
		WithIndex(&corev1.Event{}, "involvedObject.name", field(func(e *corev1.Event) string { return e.InvolvedObject.Name })).
		Build()
	return c, mapper
}

func TestDescribeTemplatesGolden(t *testing.T) {
	c, mapper := fleet(t)
	for _, tc := range []struct{ kind, name, namespace, format, file string }{
		{"deploy", "web", "web", "", "deployment.txt"},
		{"deployments.apps", "web", "web", "yaml", "deployment.yaml"},
		{"cm", "settings", "web", "", "configmap-unscheduled.txt"},
		{"configmap", "notes", "web", "", "configmap-unclaimed.txt"},
		{"clusterroles", "web-reader", "default", "", "clusterrole-unbound.txt"},
		{"wd", "blue", "web", "", "widget-stale.txt"},
		{"rb", "settings-configmap", "web", "json", "configmap-unscheduled.json"},
		{"binding", "api-deployment", "web", "", "binding-orphan.txt"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			o := Options{Client: c, Mapper: mapper, Out: &b, Namespace: tc.namespace, Format: tc.format, Now: now}
			if err := Describe(context.Background(), o, tc.kind, tc.name); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

// Describing a binding traces its template: the same text as describing
// the template.
func TestDescribeBindingIsTemplate(t *testing.T) {
	c, mapper := fleet(t)
	describe := func(kind, name string) string {
		var b bytes.Buffer
		o := Options{Client: c, Mapper: mapper, Out: &b, Namespace: "web", Now: now}
		if err := Describe(context.Background(), o, kind, name); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if diff := cmp.Diff(describe("Deployment", "web"), describe("rb", "web-deployment")); diff != "" {
		t.Errorf("describe rb differs from describe deployment (-deployment +rb):\n%s", diff)
	}
}

func TestDescribeErrors(t *testing.T) {
	c, mapper := fleet(t)
	for name, tc := range map[string]struct{ kind, name, namespace, want string }{
		"unknown kind":      {"gadget", "x", "web", `the hub serves no resource type "gadget"`},
		"missing template":  {"deploy", "api", "web", `deployment "api" not found in namespace web`},
		"other namespace":   {"deploy", "web", "default", `deployment "web" not found in namespace default`},
		"missing binding":   {"rb", "db-deployment", "web", `resourcebinding "db-deployment" not found in namespace web`},
		"missing crb":       {"crb", "x", "web", `clusterresourcebinding "x" not found`},
		"flotilla own kind": {"pp", "web-spread", "web", "PropagationPolicy is one of Flotilla's own kinds, not a template"},
		"missing cluster":   {"cluster", "nope", "web", `cluster "nope" not found`},
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{Client: c, Mapper: mapper, Out: &bytes.Buffer{}, Namespace: tc.namespace, Now: now}
			if err := Describe(context.Background(), o, tc.kind, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// describe cluster keeps its text, and -o json|yaml prints the Cluster.
func TestDescribeClusterObject(t *testing.T) {
	mapper := testMapper(t)
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		&clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member-cluster-1"}}).Build()
	var b bytes.Buffer
	o := Options{Client: c, Mapper: mapper, Out: &b, Format: "yaml", Now: now}
	if err := Describe(context.Background(), o, "clusters", "member-cluster-1"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "kind: Cluster\n") || !strings.Contains(got, "name: member-cluster-1\n") {
		t.Errorf("describe cluster -o yaml:\n%s", got)
	}
}
