package promote

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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
			Verbs: metav1.Verbs{"get", "list", "create"}}
	}
	dc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			res("services", "service", "Service", true, "svc"), res("namespaces", "namespace", "Namespace", false, "ns"),
			res("secrets", "secret", "Secret", true)}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{res("deployments", "deployment", "Deployment", true, "deploy")}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{res("clusterroles", "clusterrole", "ClusterRole", false)}},
		{GroupVersion: "policy.flotilla.io/v1alpha1", APIResources: []metav1.APIResource{
			res("propagationpolicies", "propagationpolicy", "PropagationPolicy", true, "pp")}},
	}}}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(groups), dc, func(string) {})
}

// cluster is a Push member of the hub with its credentials.
func cluster(name string, ready metav1.ConditionStatus, taints ...corev1.Taint) []client.Object {
	return []client.Object{
		&clusterv1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://127.0.0.1:6443", Taints: taints,
				SecretRef: &clusterv1alpha1.SecretReference{Namespace: "flotilla-system", Name: "cluster-" + name}},
			Status: clusterv1alpha1.ClusterStatus{Conditions: []metav1.Condition{{Type: clusterv1alpha1.ConditionReady, Status: ready,
				Reason: "Unreachable", Message: "connection refused"}}},
		},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "flotilla-system", Name: "cluster-" + name},
			Data: map[string][]byte{"token": []byte("s3cret-token"), "ca.crt": []byte("ca")}},
	}
}

// memberDeployment is a Deployment someone created in a member.
func memberDeployment(mutate ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop", "uid": "uid-in-member", "resourceVersion": "12",
			"generation": int64(1), "labels": map[string]any{"app": "web"},
			"annotations": map[string]any{"deployment.kubernetes.io/revision": "1"}},
		"spec": map[string]any{"replicas": int64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27"}}}}},
		"status": map[string]any{"replicas": int64(2), "readyReplicas": int64(2)},
	}}
	for _, m := range mutate {
		m(u)
	}
	return u
}

type fixture struct {
	hub    client.Client
	member *dynamicfake.FakeDynamicClient
	// cfg is the configuration promote built for the member.
	cfg    *rest.Config
	out    bytes.Buffer
	errOut bytes.Buffer
}

func newFixture(t *testing.T, hubObjs []client.Object, memberObjs ...runtime.Object) *fixture {
	t.Helper()
	return &fixture{
		hub:    fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(hubObjs...).Build(),
		member: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), memberObjs...),
	}
}

func (f *fixture) options(t *testing.T) Options {
	return Options{Client: f.hub, Mapper: testMapper(t), Out: &f.out, ErrOut: &f.errOut,
		MemberClient: func(cfg *rest.Config) (dynamic.Interface, error) { f.cfg = cfg; return f.member, nil },
		Namespace:    "shop", Cluster: "member-cluster-1", Timeout: 5 * time.Second, Interval: time.Millisecond}
}

func TestPromoteDryRun(t *testing.T) {
	f := newFixture(t, cluster("member-cluster-1", metav1.ConditionTrue), memberDeployment())
	o := f.options(t)
	o.DryRun = true
	if err := Promote(context.Background(), o, "deploy", "web"); err != nil {
		t.Fatal(err)
	}
	golden(t, "dry-run-deployment.yaml", f.out.Bytes())
	if f.errOut.Len() != 0 {
		t.Errorf("dry run wrote progress: %q", f.errOut.String())
	}
	// Nothing changed on the hub.
	var pps policyv1alpha1.PropagationPolicyList
	if err := f.hub.List(context.Background(), &pps); err != nil || len(pps.Items) != 0 {
		t.Errorf("dry run created policies: %v %v", pps.Items, err)
	}
	if err := f.hub.Get(context.Background(), client.ObjectKey{Name: "shop"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the namespace: %v", err)
	}
	if f.cfg == nil || f.cfg.Host != "https://127.0.0.1:6443" || f.cfg.BearerToken != "s3cret-token" || f.cfg.UserAgent != "flotilla-cli/promote" {
		t.Errorf("member configuration: got %+v", f.cfg)
	}
	if strings.Contains(f.out.String(), "s3cret") {
		t.Errorf("the output shows the member's token")
	}
}

func TestPromoteErrors(t *testing.T) {
	deployTemplate := Template(memberDeployment())
	existingPolicy := Policy(deployTemplate.GroupVersionKind(), "shop", "web", "promote-web", "member-cluster-1", nil)
	for name, tc := range map[string]struct {
		hub       []client.Object
		member    []runtime.Object
		namespace string
		kind      string
		name      string
		cluster   string
		wantErr   string
	}{
		"system name": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue), kind: "clusterrole", name: "system:auth-delegator",
			wantErr: "clusterrole/system:auth-delegator belongs to the cluster itself: Flotilla never propagates objects named system:*",
		},
		"credentials": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue), kind: "secret",
			member: []runtime.Object{&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata": map[string]any{"namespace": "shop", "name": "web"}, "type": "kubernetes.io/service-account-token"}}},
			wantErr: "secret/web in cluster member-cluster-1 is a kubernetes.io/service-account-token Secret: credentials are the cluster's own, and Flotilla never propagates them",
		},
		"kube-system": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue), namespace: "kube-system",
			wantErr: "namespace kube-system belongs to the clusters themselves: Flotilla never propagates its objects, so it cannot manage deployment/web",
		},
		"unknown cluster": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue), member: []runtime.Object{memberDeployment()}, cluster: "nope",
			wantErr: `cluster "nope" not found; flotilla get clusters lists the fleet`,
		},
		"cluster not ready": {
			hub: cluster("member-cluster-1", metav1.ConditionFalse), member: []runtime.Object{memberDeployment()},
			wantErr: "cluster member-cluster-1 is not Ready (Unreachable: connection refused): promote needs to read the object from it and the hub to apply to it; flotilla describe cluster member-cluster-1 shows why",
		},
		"cluster cordoned": {
			hub:    cluster("member-cluster-1", metav1.ConditionTrue, corev1.Taint{Key: clusterv1alpha1.TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule}),
			member: []runtime.Object{memberDeployment()},
			wantErr: "cluster member-cluster-1 is cordoned (taint cluster.flotilla.io/unschedulable:NoSchedule): " +
				"the scheduler places no new template there; run flotilla uncordon member-cluster-1 first",
		},
		"not in the member": {
			hub:     cluster("member-cluster-1", metav1.ConditionTrue),
			wantErr: "deployment/web not found in cluster member-cluster-1 in namespace shop",
		},
		"already managed": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue),
			member: []runtime.Object{memberDeployment(func(u *unstructured.Unstructured) {
				u.SetLabels(map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue})
				u.SetAnnotations(map[string]string{workv1alpha1.AnnotationBinding: "shop/web-deployment"})
			})},
			wantErr: "deployment/web in cluster member-cluster-1 is already managed by Flotilla (binding shop/web-deployment); flotilla describe deployment/web -n shop shows its policy",
		},
		"controlled by another object": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue),
			member: []runtime.Object{memberDeployment(func(u *unstructured.Unstructured) {
				u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "WebApp", Name: "web", UID: "x", Controller: ptrTo(true)}})
			})},
			wantErr: "deployment/web in cluster member-cluster-1 is controlled by webapp web: promote the object that controls it",
		},
		"template exists on the hub": {
			hub:    append(cluster("member-cluster-1", metav1.ConditionTrue), deployTemplate),
			member: []runtime.Object{memberDeployment()},
			wantErr: "deployment/web already exists on the hub in namespace shop: promote only creates templates; " +
				"to manage it, select it with a policy (conflictResolution: Overwrite takes the member's object over)",
		},
		"policy exists on the hub": {
			hub:     append(cluster("member-cluster-1", metav1.ConditionTrue), existingPolicy),
			member:  []runtime.Object{memberDeployment()},
			wantErr: "PropagationPolicy shop/promote-web already exists on the hub: choose another name with --policy-name",
		},
		"flotilla's own kind": {
			hub: cluster("member-cluster-1", metav1.ConditionTrue), kind: "pp",
			wantErr: "PropagationPolicy is one of Flotilla's own kinds, not a template: promote an object that runs in a member, such as deployment/NAME",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, tc.hub, tc.member...)
			o := f.options(t)
			if tc.cluster != "" {
				o.Cluster = tc.cluster
			}
			if tc.namespace != "" {
				o.Namespace = tc.namespace
			}
			kind, name := "deployment", "web"
			if tc.kind != "" {
				kind = tc.kind
			}
			if tc.name != "" {
				name = tc.name
			}
			err := Promote(context.Background(), o, kind, name)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("got error %v\nwant %s", err, tc.wantErr)
			}
			if strings.Contains(f.out.String()+f.errOut.String(), "s3cret") {
				t.Errorf("the output shows the member's token")
			}
		})
	}
}

// fakePipeline plays the hub's part once promote created the template: it
// claims the template for claim, and creates its binding with the cluster's
// result.
func fakePipeline(ctx context.Context, c client.Client, claim string, result workv1alpha1.ClusterStatus) <-chan error {
	done := make(chan error, 1)
	go func() {
		tmpl := &unstructured.Unstructured{}
		tmpl.SetAPIVersion("apps/v1")
		tmpl.SetKind("Deployment")
		err := wait.PollUntilContextTimeout(ctx, time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
			return c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, tmpl) == nil, nil
		})
		if err != nil {
			done <- err
			return
		}
		tmpl.SetAnnotations(map[string]string{workv1alpha1.AnnotationPolicy: claim})
		if err := c.Update(ctx, tmpl); err != nil {
			done <- err
			return
		}
		done <- c.Create(ctx, &workv1alpha1.ResourceBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-deployment"},
			Spec: workv1alpha1.BindingSpec{Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment",
				Namespace: "shop", Name: "web", UID: string(tmpl.GetUID())}},
			Status: workv1alpha1.BindingStatus{Clusters: []workv1alpha1.ClusterStatus{result}},
		})
	}()
	return done
}

func TestPromote(t *testing.T) {
	f := newFixture(t, cluster("member-cluster-1", metav1.ConditionTrue), memberDeployment())
	ctx := context.Background()
	pipeline := fakePipeline(ctx, f.hub, "PropagationPolicy/shop/promote-web",
		workv1alpha1.ClusterStatus{Cluster: "member-cluster-1", Applied: true, Reason: workv1alpha1.ReasonApplied})
	if err := Promote(ctx, f.options(t), "deployment", "web"); err != nil {
		t.Fatal(err)
	}
	if err := <-pipeline; err != nil {
		t.Fatal(err)
	}
	if want := "deployment/web in member-cluster-1 is now managed by Flotilla (PropagationPolicy shop/promote-web); uid uid-in-member unchanged\n"; f.out.String() != want {
		t.Errorf("output: got %q, want %q", f.out.String(), want)
	}
	if want := "created PropagationPolicy shop/promote-web and the template deployment/web on the hub; waiting for cluster member-cluster-1 to take deployment/web over (at most 5s)\n"; f.errOut.String() != want {
		t.Errorf("progress: got %q, want %q", f.errOut.String(), want)
	}
	// The hub has the namespace, the policy and the template.
	if err := f.hub.Get(ctx, client.ObjectKey{Name: "shop"}, &corev1.Namespace{}); err != nil {
		t.Errorf("namespace: %v", err)
	}
	var pp policyv1alpha1.PropagationPolicy
	if err := f.hub.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "promote-web"}, &pp); err != nil {
		t.Fatal(err)
	}
	if pp.Spec.ConflictResolution != policyv1alpha1.ConflictOverwrite {
		t.Errorf("policy: conflictResolution %q", pp.Spec.ConflictResolution)
	}
	tmpl := &unstructured.Unstructured{}
	tmpl.SetAPIVersion("apps/v1")
	tmpl.SetKind("Deployment")
	if err := f.hub.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, tmpl); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := unstructured.NestedMap(tmpl.Object, "status"); len(st) > 0 {
		t.Errorf("the template carries the member's status")
	}
}

func TestPromoteClaimedByAnotherPolicy(t *testing.T) {
	f := newFixture(t, cluster("member-cluster-1", metav1.ConditionTrue), memberDeployment())
	ctx := context.Background()
	pipeline := fakePipeline(ctx, f.hub, "ClusterPropagationPolicy/everything",
		workv1alpha1.ClusterStatus{Cluster: "member-cluster-1", Reason: workv1alpha1.ReasonConflict})
	err := Promote(ctx, f.options(t), "deployment", "web")
	want := "deployment/web was claimed by ClusterPropagationPolicy/everything, not by PropagationPolicy shop/promote-web: that policy outranks it; " +
		"the template and PropagationPolicy shop/promote-web stay on the hub, and ClusterPropagationPolicy/everything decides where the template runs"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	<-pipeline
}

func TestPromoteTimesOut(t *testing.T) {
	f := newFixture(t, cluster("member-cluster-1", metav1.ConditionTrue), memberDeployment())
	ctx := context.Background()
	pipeline := fakePipeline(ctx, f.hub, "PropagationPolicy/shop/promote-web",
		workv1alpha1.ClusterStatus{Cluster: "member-cluster-1", Reason: workv1alpha1.ReasonApplyFailed, Message: "apply: forbidden"})
	o := f.options(t)
	o.Timeout = 300 * time.Millisecond
	err := Promote(ctx, o, "deployment", "web")
	<-pipeline
	want := "cluster member-cluster-1 did not report deployment/web applied within 300ms: cluster member-cluster-1 reports ApplyFailed: apply: forbidden. " +
		"The template and PropagationPolicy shop/promote-web stay on the hub, and Flotilla keeps trying; flotilla describe deployment/web -n shop shows more"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func ptrTo[T any](v T) *T { return &v }
