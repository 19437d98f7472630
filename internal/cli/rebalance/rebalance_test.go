package rebalance

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "policy.flotilla.io", Version: "v1alpha1", Kind: "PropagationPolicy"}, meta.RESTScopeNamespace)
	return m
}

func deployment(ns, name string, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
}

// binding is a ResourceBinding the scheduler has decided at generation 4.
func binding(ns, name string, clusters ...workv1alpha1.TargetCluster) *workv1alpha1.ResourceBinding {
	return &workv1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 4},
		Spec: workv1alpha1.BindingSpec{Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web"},
			Replicas: 3, Clusters: clusters},
		Status: workv1alpha1.BindingStatus{SchedulerObservedGeneration: 4, Conditions: []metav1.Condition{scheduled(4, metav1.ConditionTrue, "")}},
	}
}

func scheduled(gen int64, status metav1.ConditionStatus, msg string) metav1.Condition {
	reason := workv1alpha1.ReasonScheduled
	if status != metav1.ConditionTrue {
		reason = workv1alpha1.ReasonNoClusterFits
	}
	return metav1.Condition{Type: workv1alpha1.ConditionScheduled, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)}
}

func options(c client.Client, out *bytes.Buffer) Options {
	return Options{Client: c, Mapper: testMapper(), Out: out, ErrOut: out, Namespace: "web",
		Timeout: 5 * time.Second, Interval: time.Millisecond, Now: now}
}

func TestRebalanceSetsTrigger(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		objs      []client.Object
		namespace string
		arg       string
		key       client.ObjectKey
		cluster   bool
		want      string
	}{
		"deployment": {
			objs: []client.Object{deployment("web", "web", nil), binding("web", "web-deployment")},
			arg:  "deployment/web", key: client.ObjectKey{Namespace: "web", Name: "web-deployment"},
			want: "rebalance requested for deployment/web (resourcebinding web/web-deployment)\n",
		},
		"kind with group": {
			objs: []client.Object{deployment("web", "web", nil), binding("web", "web-deployment")},
			arg:  "deployments.apps/web", key: client.ObjectKey{Namespace: "web", Name: "web-deployment"},
			want: "rebalance requested for deployment/web (resourcebinding web/web-deployment)\n",
		},
		"cluster-scoped": {
			objs: []client.Object{&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader"}},
				&workv1alpha1.ClusterResourceBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader-clusterrole"}}},
			arg: "clusterrole/reader", key: client.ObjectKey{Name: "reader-clusterrole"}, cluster: true,
			want: "rebalance requested for clusterrole/reader (clusterresourcebinding reader-clusterrole)\n",
		},
		"a binding by name": {
			objs: []client.Object{binding("web", "web-deployment")},
			arg:  "rb/web-deployment", key: client.ObjectKey{Namespace: "web", Name: "web-deployment"},
			want: "rebalance requested for resourcebinding web/web-deployment\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(tc.objs...).Build()
			var out bytes.Buffer
			kind, n, _ := strings.Cut(tc.arg, "/")
			if err := Rebalance(ctx, options(c, &out), kind, n); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			b := workv1alpha1.NewBinding(!tc.cluster)
			if err := c.Get(ctx, tc.key, b); err != nil {
				t.Fatal(err)
			}
			if at := b.GetSpec().RescheduleTriggeredAt; at == nil || !at.Time.Equal(now) {
				t.Errorf("rescheduleTriggeredAt: got %v, want %v", at, now)
			}
		})
	}
}

func TestRebalanceErrors(t *testing.T) {
	ctx := context.Background()
	claimed := map[string]string{workv1alpha1.AnnotationPolicy: "PropagationPolicy/web/web-spread"}
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		deployment("web", "lonely", nil), deployment("web", "claimed", claimed)).Build()
	for name, tc := range map[string]struct{ kind, name, want string }{
		"no binding": {"deployment", "lonely", "deployment/lonely has no binding: no propagation policy selects it"},
		"claimed, no binding": {"deployment", "claimed",
			"deployment/claimed has no binding yet: PropagationPolicy/web/web-spread claims it, but the hub has not created its binding; is flotilla hub running?"},
		"no template":      {"deployment", "nope", `deployment "nope" not found in namespace web`},
		"no binding named": {"rb", "nope", "resourcebinding web/nope not found; flotilla get bindings lists them"},
		"a cluster":        {"cluster", "edge", "rebalance places templates, not clusters; to move the workloads off cluster edge, run flotilla cordon --drain edge"},
		"a policy":         {"propagationpolicy", "p", "PropagationPolicy is one of Flotilla's own kinds, not a template"},
		"an unknown kind":  {"gizmo", "g", `the hub serves no resource type "gizmo"`},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := Rebalance(ctx, options(c, &out), tc.kind, tc.name)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

// schedulerAfter returns interceptor functions under which the binding
// seems unscheduled for the first reads, then scheduled as decide says:
// the patch bumps the generation to 5, as the API server would, and the
// scheduler's status arrives on the third read.
func schedulerAfter(decide func(b *workv1alpha1.ResourceBinding)) interceptor.Funcs {
	reads := 0
	return interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if err := c.Patch(ctx, obj, patch, opts...); err != nil {
				return err
			}
			obj.SetGeneration(5)
			return nil
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := c.Get(ctx, key, obj, opts...); err != nil {
				return err
			}
			b, ok := obj.(*workv1alpha1.ResourceBinding)
			if !ok {
				return nil
			}
			if reads++; reads >= 3 {
				b.Generation = 5
				decide(b)
			}
			return nil
		},
	}
}

func TestRebalanceWait(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(deployment("web", "web", nil),
		binding("web", "web-deployment", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})).
		WithInterceptorFuncs(schedulerAfter(func(b *workv1alpha1.ResourceBinding) {
			b.Spec.Clusters = []workv1alpha1.TargetCluster{{Name: "member-a", Replicas: 2}, {Name: "member-b", Replicas: 1}}
			b.Status.SchedulerObservedGeneration = 5
			b.Status.Conditions = []metav1.Condition{scheduled(5, metav1.ConditionTrue, "")}
		})).Build()
	var out bytes.Buffer
	o := options(c, &out)
	o.Wait = true
	if err := Rebalance(ctx, o, "deployment", "web"); err != nil {
		t.Fatal(err)
	}
	want := `rebalance requested for deployment/web (resourcebinding web/web-deployment)
  member-a: 2 replicas
  member-b: 1 replicas
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestRebalanceWaitNotScheduled(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(deployment("web", "web", nil),
		binding("web", "web-deployment", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})).
		WithInterceptorFuncs(schedulerAfter(func(b *workv1alpha1.ResourceBinding) {
			b.Status.SchedulerObservedGeneration = 5
			b.Status.Conditions = []metav1.Condition{scheduled(5, metav1.ConditionFalse, "0/2 clusters fit: 2 have a taint the policy does not tolerate")}
		})).Build()
	var out bytes.Buffer
	o := options(c, &out)
	o.Wait = true
	err := Rebalance(ctx, o, "deployment", "web")
	want := "resourcebinding web/web-deployment is not scheduled (NoClusterFits): 0/2 clusters fit: 2 have a taint the policy does not tolerate; it keeps running on member-a"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestRebalanceWaitTimesOut: the status of the generation before
// the trigger is no answer; without a scheduler, --wait times out.
func TestRebalanceWaitTimesOut(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(deployment("web", "web", nil), binding("web", "web-deployment")).
		WithInterceptorFuncs(interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if err := c.Patch(ctx, obj, patch, opts...); err != nil {
				return err
			}
			obj.SetGeneration(5)
			return nil
		}}).Build()
	var out bytes.Buffer
	o := options(c, &out)
	o.Wait, o.Timeout = true, 50*time.Millisecond
	err := Rebalance(ctx, o, "deployment", "web")
	want := "the scheduler did not act on resourcebinding web/web-deployment within 50ms (generation 5, the scheduler observed 4); is flotilla hub running?"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want an error starting %q", err, want)
	}
}

func TestRebalanceOutputYAML(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(deployment("web", "web", nil), binding("web", "web-deployment")).Build()
	var out, progress bytes.Buffer
	o := options(c, &out)
	o.ErrOut, o.Format = &progress, "yaml"
	if err := Rebalance(ctx, o, "deployment", "web"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"kind: ResourceBinding\n", "apiVersion: work.flotilla.io/v1alpha1\n", "rescheduleTriggeredAt: \"2026-11-24T12:00:00Z\"\n"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	if got, want := progress.String(), "rebalance requested for deployment/web (resourcebinding web/web-deployment)\n"; got != want {
		t.Errorf("progress: got %q, want %q", got, want)
	}
}

func TestPrintPlacement(t *testing.T) {
	var b bytes.Buffer
	printPlacement(&b, &workv1alpha1.ClusterResourceBinding{Spec: workv1alpha1.BindingSpec{
		Clusters: []workv1alpha1.TargetCluster{{Name: "member-a"}, {Name: "member-b"}}}})
	printPlacement(&b, &workv1alpha1.ResourceBinding{Spec: workv1alpha1.BindingSpec{Replicas: 2}})
	want := "  member-a\n  member-b\n  <none>: no cluster runs it\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
