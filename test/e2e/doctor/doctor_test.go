package doctor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/doctor"
	"github.com/flotilla-io/flotilla/test/framework"
)

const timeout = 2 * time.Minute

// TestHealthyFleet: a fleet whose members are Ready, with one policy that
// claims one Deployment, passes every check that can pass; the rest are
// skipped with a reason, and doctor exits 0.
func TestHealthyFleet(t *testing.T) {
	framework.Require(t, env)
	ns := "doctor-healthy"
	createNamespace(t, ns)
	create(t, deployment(ns, "web"), policy(ns, "web", "web", members...))
	waitBinding(t, ns, "web-deployment", func(b *workv1alpha1.ResourceBinding) error {
		if !meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha1.ConditionApplied) {
			return fmt.Errorf("binding %s/%s is not applied yet: %v", ns, b.Name, b.Status.Conditions)
		}
		return nil
	})

	var rep doctor.Report
	framework.Eventually(t, timeout, func() error {
		r, code, err := run(t)
		if err != nil {
			return err
		}
		rep = r
		var bad []string
		for _, c := range rep.Checks {
			if c.Status != doctor.Pass && c.Status != doctor.Skip {
				bad = append(bad, describe(c))
			}
			if c.Status == doctor.Skip && c.Reason == "" {
				bad = append(bad, c.Name+": skipped without a reason")
			}
		}
		if len(bad) > 0 || code != 0 {
			return fmt.Errorf("exit code %d; checks that neither pass nor skip:\n%s", code, strings.Join(bad, "\n"))
		}
		return nil
	})
	// What must pass on a healthy fleet, rather than be skipped.
	for _, name := range []string{"hub-api", "hub-controllers", "clusters-ready", "cluster-probes", "credentials-expiry",
		"policies-claim-templates", "bindings-scheduled-applied", "unclaimed-workloads", "failover", "tls", "hub-metrics"} {
		if r := check(rep, name); r.Status != doctor.Pass {
			t.Errorf("want a pass:\n%s", describe(r))
		}
	}
	for _, name := range []string{"pull-clusters", "agent-rbac", "secrets-encryption-at-rest", "audit-log"} {
		if r := check(rep, name); r.Status != doctor.Skip {
			t.Errorf("want a skip:\n%s", describe(r))
		}
	}
	if r := check(rep, "hub-metrics"); !hasLine(r.Evidence, `flotilla_cluster_ready{cluster="member-cluster-1"} 1`) {
		t.Errorf("hub-metrics does not show the hub's gauge:\n%s", describe(r))
	}

	// The text output: one line per check and the summary, no colour
	// through a pipe.
	out, err := env.Flotilla(t, "doctor", "--metrics-url", metricsURL)
	if err != nil {
		t.Fatalf("flotilla doctor: %v\n%s", err, out)
	}
	t.Logf("flotilla doctor on a healthy fleet:\n%s", out)
	want := fmt.Sprintf("%d passed, 0 warnings, 0 failed, %d skipped", rep.Summary.Passed, rep.Summary.Skipped)
	if !strings.Contains(out, want) || strings.Contains(out, "\x1b[") {
		t.Errorf("text output lacks %q, or is coloured:\n%s", want, out)
	}
}

// TestMemberDown: a member whose API server is stopped fails clusters-ready
// with the fix for an unreachable cluster, and doctor exits 1.
func TestMemberDown(t *testing.T) {
	framework.Require(t, env)
	down := members[1]
	m := env.Member(down)
	if err := m.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := m.Restart(ctx); err != nil {
			t.Errorf("restart %s: %v", down, err)
			return
		}
		waitClusterReady(t, down)
	})

	framework.Eventually(t, timeout, func() error {
		rep, code, err := run(t)
		if err != nil {
			return err
		}
		r := check(rep, "clusters-ready")
		switch {
		case r.Status != doctor.Fail:
			return fmt.Errorf("clusters-ready does not fail yet:\n%s", describe(r))
		case code != 1:
			return fmt.Errorf("exit code %d, want 1", code)
		case !hasLine(r.Evidence, down+": Ready=False (Unreachable)"):
			return fmt.Errorf("no evidence that %s is unreachable:\n%s", down, describe(r))
		case !strings.Contains(r.Fix, down+": check that its API server runs and that the hub reaches https://"):
			return fmt.Errorf("not the fix for an unreachable cluster:\n%s", describe(r))
		case !strings.Contains(r.Summary, "1 of 2 clusters is not Ready: "+down):
			return fmt.Errorf("summary:\n%s", describe(r))
		}
		if c := check(rep, "hub-api"); c.Status != doctor.Pass {
			return fmt.Errorf("the hub itself is fine:\n%s", describe(c))
		}
		return nil
	})

	// The text output shows the failure with its evidence and fix.
	out, err := env.Flotilla(t, "doctor", "--metrics-url", metricsURL)
	if err == nil {
		t.Errorf("flotilla doctor exited 0 with %s down:\n%s", down, out)
	}
	for _, want := range []string{"FAIL  clusters-ready", "fix: " + down + ": check that its API server runs", "error: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

// TestPolicyMatchingNothing: a policy whose selectors match no template
// fails policies-claim-templates, and doctor exits 1.
func TestPolicyMatchingNothing(t *testing.T) {
	framework.Require(t, env)
	ns := "doctor-idle"
	createNamespace(t, ns)
	create(t, policy(ns, "nothing", "does-not-exist", members...))

	framework.Eventually(t, timeout, func() error {
		rep, code, err := run(t)
		if err != nil {
			return err
		}
		r := check(rep, "policies-claim-templates")
		switch {
		case r.Status != doctor.Fail:
			return fmt.Errorf("policies-claim-templates does not fail:\n%s", describe(r))
		case code != 1:
			return fmt.Errorf("exit code %d, want 1", code)
		case !hasLine(r.Evidence, "PropagationPolicy/"+ns+"/nothing: claims no template (selects apps/v1 Deployment name=does-not-exist)"):
			return fmt.Errorf("the idle policy is not named:\n%s", describe(r))
		case !strings.Contains(r.Fix, "check spec.resourceSelectors (apiVersion, kind, name, labelSelector) against the templates on the hub"):
			return fmt.Errorf("fix:\n%s", describe(r))
		}
		return nil
	})
}

// TestUnschedulableBinding: a policy whose clusterAffinity names no
// existing cluster leaves its Deployment's binding unschedulable; the
// bindings check fails with the describe command, and doctor exits 1.
func TestUnschedulableBinding(t *testing.T) {
	framework.Require(t, env)
	ns := "doctor-unsched"
	createNamespace(t, ns)
	create(t, deployment(ns, "stuck"), policy(ns, "stuck", "stuck", "no-such-cluster"))

	framework.Eventually(t, timeout, func() error {
		rep, code, err := run(t)
		if err != nil {
			return err
		}
		r := check(rep, "bindings-scheduled-applied")
		switch {
		case r.Status != doctor.Fail:
			return fmt.Errorf("bindings-scheduled-applied does not fail:\n%s", describe(r))
		case code != 1:
			return fmt.Errorf("exit code %d, want 1", code)
		case !hasLine(r.Evidence, "ResourceBinding "+ns+"/stuck-deployment (Deployment stuck): Scheduled=False (NoClusterFits)"):
			return fmt.Errorf("the unschedulable binding is not named:\n%s", describe(r))
		case !strings.Contains(r.Fix, "flotilla describe deployment/stuck -n "+ns):
			return fmt.Errorf("fix:\n%s", describe(r))
		}
		// The policy claims its template: only the binding is at fault.
		if p := check(rep, "policies-claim-templates"); !hasLine(p.Evidence, "PropagationPolicy/"+ns+"/stuck: claims 1 template") {
			return fmt.Errorf("the policy claims its template:\n%s", describe(p))
		}
		return nil
	})
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Hub.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// create creates objects on the hub. When the test ends they are deleted,
// and the test waits until the hub has no binding left in their
// namespaces, so that the next test starts from a clean fleet.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		if err := env.Hub.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		for _, o := range objs {
			if err := env.Hub.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %T %s: %v", o, o.GetName(), err)
			}
		}
		framework.Eventually(t, timeout, func() error {
			for _, o := range objs {
				var l workv1alpha1.ResourceBindingList
				if err := env.Hub.List(ctx, &l, client.InNamespace(o.GetNamespace())); err != nil {
					return err
				}
				if len(l.Items) > 0 {
					return fmt.Errorf("%d bindings left in %s", len(l.Items), o.GetNamespace())
				}
			}
			return nil
		})
	})
}

func deployment(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/" + name + ":v1"}}},
			},
		},
	}
}

// policy propagates the Deployment named template to clusters, duplicated.
func policy(ns, name, template string, clusters ...string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: template}},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity:   &policyv1alpha1.ClusterAffinity{ClusterNames: clusters},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated},
			},
		},
	}
}

func waitBinding(t *testing.T, ns, name string, cond func(*workv1alpha1.ResourceBinding) error) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		var b workv1alpha1.ResourceBinding
		if err := env.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
			return err
		}
		return cond(&b)
	})
}

func waitClusterReady(t *testing.T, name string) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		var c clusterv1alpha1.Cluster
		if err := env.Hub.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady) {
			return fmt.Errorf("cluster %s is not Ready: %v", name, c.Status.Conditions)
		}
		return nil
	})
}
