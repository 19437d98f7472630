package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// policyRef is the policy the test bindings name; the hub's controllers do
// not run, so it need not exist.
var policyRef = workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: "rebalance", Name: "spread"}

// resourceBinding creates the binding of a Deployment as the hub would,
// already scheduled at its first generation on clusters, and returns it.
func resourceBinding(t *testing.T, ns, template string, clusters ...workv1alpha1.TargetCluster) *workv1alpha1.ResourceBinding {
	t.Helper()
	b := &workv1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workv1alpha1.BindingName(template, "Deployment")},
		Spec: workv1alpha1.BindingSpec{
			Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: template},
			Replicas: 3, Policy: policyRef, Clusters: clusters,
		},
	}
	create(t, b)
	markScheduled(t, b, metav1.ConditionTrue, "")
	return b
}

// markScheduled records the scheduler's verdict on b's current generation.
func markScheduled(t *testing.T, b workv1alpha1.Binding, status metav1.ConditionStatus, msg string) {
	t.Helper()
	if err := recordDecision(context.Background(), b, status, msg); err != nil {
		t.Fatal(err)
	}
}

func recordDecision(ctx context.Context, b workv1alpha1.Binding, status metav1.ConditionStatus, msg string) error {
	reason := workv1alpha1.ReasonScheduled
	if status != metav1.ConditionTrue {
		reason = workv1alpha1.ReasonNoClusterFits
	}
	st := b.GetBindingStatus()
	st.SchedulerObservedGeneration = b.GetGeneration()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: workv1alpha1.ConditionScheduled, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: b.GetGeneration()})
	return env.Hub.Status().Update(ctx, b)
}

// triggeredAt returns the binding's spec.rescheduleTriggeredAt.
func triggeredAt(t *testing.T, b workv1alpha1.Binding) *metav1.Time {
	t.Helper()
	if err := env.Hub.Get(context.Background(), client.ObjectKeyFromObject(b), b); err != nil {
		t.Fatal(err)
	}
	return b.GetSpec().RescheduleTriggeredAt
}

// fakeScheduler plays the scheduler's part once rebalance has asked for a
// decision: it waits for spec.rescheduleTriggeredAt, writes clusters into
// spec.clusters (which bumps the generation; nil leaves them, as a failed
// decision does), then records status at the new generation. The channel
// gets its error, or nil.
func fakeScheduler(ctx context.Context, key client.ObjectKey, clusters []workv1alpha1.TargetCluster, status metav1.ConditionStatus, msg string) <-chan error {
	done := make(chan error, 1)
	go func() {
		b := &workv1alpha1.ResourceBinding{}
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := env.Hub.Get(ctx, key, b); err != nil {
				return false, err
			}
			return b.Spec.RescheduleTriggeredAt != nil, nil
		})
		if err != nil {
			done <- fmt.Errorf("wait for the rebalance trigger: %w", err)
			return
		}
		if clusters != nil {
			before := b.DeepCopy()
			b.Spec.Clusters = clusters
			if err := env.Hub.Patch(ctx, b, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
				done <- fmt.Errorf("write spec.clusters: %w", err)
				return
			}
		}
		done <- recordDecision(ctx, b, status, msg)
	}()
	return done
}

// TestRebalanceSetsTrigger: rebalance finds a template's binding and sets
// spec.rescheduleTriggeredAt, which bumps the generation.
func TestRebalanceSetsTrigger(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "web", 3))
	b := resourceBinding(t, "rebalance", "web", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})
	gen := b.Generation
	before := time.Now().Add(-time.Second)

	out := mustFlotilla(t, "rebalance", "deployment/web", "-n", "rebalance")
	if want := "rebalance requested for deployment/web (resourcebinding rebalance/web-deployment)\n"; out != want {
		t.Errorf("output: got %q, want %q", out, want)
	}
	at := triggeredAt(t, b)
	if at == nil || at.Time.Before(before.Truncate(time.Second)) || at.Time.After(time.Now()) {
		t.Errorf("spec.rescheduleTriggeredAt: got %v, want now", at)
	}
	if b.Generation <= gen {
		t.Errorf("generation: got %d, want more than %d", b.Generation, gen)
	}
	// The kind as KIND NAME, through discovery's short names.
	mustFlotilla(t, "rebalance", "deploy", "web", "--namespace", "rebalance")
}

// TestRebalanceWait: --wait waits for the scheduler's decision on the
// generation the trigger made, not the decision the binding already had,
// and prints it.
func TestRebalanceWait(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "wait", 3))
	b := resourceBinding(t, "rebalance", "wait", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheduled := fakeScheduler(ctx, client.ObjectKeyFromObject(b),
		[]workv1alpha1.TargetCluster{{Name: "member-a", Replicas: 2}, {Name: "member-b", Replicas: 1}}, metav1.ConditionTrue, "")

	out := mustFlotilla(t, "rebalance", "deployment/wait", "-n", "rebalance", "--wait", "--timeout", "1m")
	if err := <-scheduled; err != nil {
		t.Fatal(err)
	}
	want := `rebalance requested for deployment/wait (resourcebinding rebalance/wait-deployment)
  member-a: 2 replicas
  member-b: 1 replicas
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestRebalanceWaitNotScheduled: when the scheduler cannot place the
// template, --wait prints why and exits non-zero.
func TestRebalanceWaitNotScheduled(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "nofit", 3))
	b := resourceBinding(t, "rebalance", "nofit", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msg := "0/2 clusters fit: member-a, member-b have taint cluster.flotilla.io/unschedulable:NoSchedule, which the policy does not tolerate"
	scheduled := fakeScheduler(ctx, client.ObjectKeyFromObject(b), nil, metav1.ConditionFalse, msg)

	out, code := flotilla(t, "rebalance", "deployment/nofit", "-n", "rebalance", "--wait", "--timeout", "1m")
	if err := <-scheduled; err != nil {
		t.Fatal(err)
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "error: resourcebinding rebalance/nofit-deployment is not scheduled (NoClusterFits): " + msg + "; it keeps running on member-a\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("output does not end with %q:\n%s", want, out)
	}
}

// TestRebalanceWaitTimesOut: without a scheduler, --wait gives up after
// --timeout and says what it waited for.
func TestRebalanceWaitTimesOut(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "nohub", 3))
	resourceBinding(t, "rebalance", "nohub", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})
	out, code := flotilla(t, "rebalance", "deployment/nohub", "-n", "rebalance", "--wait", "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "error: the scheduler did not act on resourcebinding rebalance/nohub-deployment within 2s") {
		t.Errorf("exit code %d, output:\n%s", code, out)
	}
}

// TestRebalanceOutputJSON: -o json prints the binding after the decision.
func TestRebalanceOutputJSON(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "json", 3))
	b := resourceBinding(t, "rebalance", "json", workv1alpha1.TargetCluster{Name: "member-a", Replicas: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheduled := fakeScheduler(ctx, client.ObjectKeyFromObject(b), []workv1alpha1.TargetCluster{{Name: "member-b", Replicas: 3}}, metav1.ConditionTrue, "")

	out := mustFlotilla(t, "rebalance", "deployment/json", "-n", "rebalance", "--wait", "-o", "json")
	if err := <-scheduled; err != nil {
		t.Fatal(err)
	}
	// The progress line goes to stderr, which the combined output puts
	// before the object.
	progress, doc, ok := strings.Cut(out, "\n")
	if !ok || progress != "rebalance requested for deployment/json (resourcebinding rebalance/json-deployment)" {
		t.Fatalf("unexpected output:\n%s", out)
	}
	var got workv1alpha1.ResourceBinding
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("not a binding: %v\n%s", err, doc)
	}
	if got.Kind != "ResourceBinding" || got.APIVersion != workv1alpha1.GroupVersion.String() {
		t.Errorf("kind %s, apiVersion %s", got.Kind, got.APIVersion)
	}
	if got.Spec.RescheduleTriggeredAt == nil {
		t.Error("spec.rescheduleTriggeredAt is not set")
	}
	if diff := cmp.Diff([]workv1alpha1.TargetCluster{{Name: "member-b", Replicas: 3}}, got.Spec.Clusters); diff != "" {
		t.Errorf("spec.clusters is not the decision (-want +got):\n%s", diff)
	}
	if got.Status.SchedulerObservedGeneration != got.Generation {
		t.Errorf("status.schedulerObservedGeneration %d, generation %d", got.Status.SchedulerObservedGeneration, got.Generation)
	}
}

// TestRebalanceClusterScoped: a cluster-scoped template's binding is a
// ClusterResourceBinding.
func TestRebalanceClusterScoped(t *testing.T) {
	framework.Require(t, env)
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "rebalance-reader"}})
	b := &workv1alpha1.ClusterResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Name: workv1alpha1.BindingName("rebalance-reader", "ClusterRole")},
		Spec: workv1alpha1.BindingSpec{
			Resource: workv1alpha1.ObjectReference{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "rebalance-reader"},
			Policy:   workv1alpha1.PolicyReference{Kind: "ClusterPropagationPolicy", Name: "everywhere"},
			Clusters: []workv1alpha1.TargetCluster{{Name: "member-a"}},
		},
	}
	create(t, b)
	out := mustFlotilla(t, "rebalance", "clusterrole/rebalance-reader")
	if want := "rebalance requested for clusterrole/rebalance-reader (clusterresourcebinding rebalance-reader-clusterrole)\n"; out != want {
		t.Errorf("output: got %q, want %q", out, want)
	}
	if triggeredAt(t, b) == nil {
		t.Error("spec.rescheduleTriggeredAt is not set")
	}
}

// TestRebalanceErrors: what has no binding, or is no template, fails with
// exit code 1 and says why.
func TestRebalanceErrors(t *testing.T) {
	framework.Require(t, env)
	createNamespace(t, "rebalance")
	create(t, deployment("rebalance", "lonely", 1))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no binding": {[]string{"rebalance", "deployment/lonely", "-n", "rebalance"},
			"error: deployment/lonely has no binding: no propagation policy selects it\n"},
		"no template": {[]string{"rebalance", "deployment/nope", "-n", "rebalance"},
			"error: deployment \"nope\" not found in namespace rebalance\n"},
		"unknown kind": {[]string{"rebalance", "gizmo/x"},
			"error: the hub serves no resource type \"gizmo\" (`kubectl api-resources` against the hub lists those it does)\n"},
		"a cluster": {[]string{"rebalance", "cluster/edge"},
			"error: rebalance places templates, not clusters; to move the workloads off cluster edge, run flotilla cordon --drain edge\n"},
		"no name": {[]string{"rebalance", "deployment"},
			"error: name the template: flotilla rebalance KIND/NAME, such as flotilla rebalance deployment/web\n"},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := flotilla(t, tc.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasSuffix(out, tc.want) {
				t.Errorf("output does not end with %q:\n%s", tc.want, out)
			}
		})
	}
}
