package registration_test

import (
	"context"
	"fmt"
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
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/test/framework"
)

// TestWorkloadRunsOnPullCluster: the whole pull path with real processes. A
// cluster registered with a token runs its agent; a Deployment placed on it
// by an ordinary policy reaches it through its Work, runs, and its status
// comes back to the binding and the template; deleting the template removes
// it from the cluster.
func TestWorkloadRunsOnPullCluster(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const name, ns = "edge-work", "pullapp"
	dir := mustRegister(t, name)
	startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, registration.ReasonHeartbeating)
	})

	d := placeOn(t, ns, name)
	member := env.MemberClient(t, localMember)
	framework.Eventually(t, time.Minute, func() error {
		got, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ReadyReplicas != 2 {
			return fmt.Errorf("the agent's cluster runs web with %d ready replicas", got.Status.ReadyReplicas)
		}
		return nil
	})
	framework.Eventually(t, time.Minute, func() error {
		var b workv1alpha1.ResourceBinding
		if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-deployment"}, &b); err != nil {
			return err
		}
		if len(b.Status.Clusters) != 1 || !b.Status.Clusters[0].Applied || b.Status.Clusters[0].Health != workv1alpha1.HealthHealthy {
			return fmt.Errorf("binding status %+v", b.Status.Clusters)
		}
		var tmpl appsv1.Deployment
		if err := env.Hub.Get(ctx, client.ObjectKeyFromObject(d), &tmpl); err != nil {
			return err
		}
		if tmpl.Status.ReadyReplicas != 2 {
			return fmt.Errorf("the hub shows %d ready replicas", tmpl.Status.ReadyReplicas)
		}
		return nil
	})

	if err := env.Hub.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, func() error {
		_, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("web is still in the agent's cluster (%v)", err)
	})
}

// placeOn creates, in hub namespace ns, a Deployment web of 2 replicas and
// a policy that places it on cluster.
func placeOn(t *testing.T, ns, cluster string) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	if err := env.Hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:v1"}}},
			},
		},
	}
	p := &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "to-the-edge"},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{cluster}},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated},
			},
		},
	}
	for _, o := range []client.Object{p, d} {
		if err := env.Hub.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestUnjoinPullClusterKeepsWorkloads: unjoin cuts a Pull cluster off and,
// as for a Push cluster, leaves what runs there running.
func TestUnjoinPullClusterKeepsWorkloads(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const name, ns = "edge-leaving", "leaving"
	dir := mustRegister(t, name)
	startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, registration.ReasonHeartbeating)
	})
	placeOn(t, ns, name)
	member := env.MemberClient(t, localMember)
	framework.Eventually(t, time.Minute, func() error {
		_, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err
	})
	if stdout, stderr, err := run(t, "unjoin", name); err != nil {
		t.Fatalf("unjoin: %v\n%s%s", err, stdout, stderr)
	}
	// The hub removes the cluster's namespace, and its Works with it.
	framework.Eventually(t, time.Minute, func() error {
		var n corev1.Namespace
		err := env.Hub.Get(ctx, client.ObjectKey{Name: workv1alpha1.ClusterNamespace(name)}, &n)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace %s is still there (%v)", workv1alpha1.ClusterNamespace(name), err)
	})
	// The agent saw its works go, or lost access first: either way the
	// workload stays. Watch it for a few seconds.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Fatalf("the workload of an unjoined Pull cluster was removed: %v", err)
		}
	}
}

// TestOfflinePullClusterKeepsItsReplicas: an edge cluster whose agent stops
// heartbeating keeps its workloads (the StayPut default), even past the
// policy's failover toleration.
func TestOfflinePullClusterKeepsItsReplicas(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const name, ns = "edge-offline-stay", "stay"
	dir := mustRegister(t, name)
	ag := startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, registration.ReasonHeartbeating)
	})
	placeOn(t, ns, name)
	var p policyv1alpha1.PropagationPolicy
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "to-the-edge"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Failover = &policyv1alpha1.FailoverBehavior{Cluster: &policyv1alpha1.ClusterFailover{TolerationSeconds: ptr.To[int32](1)}}
	if err := env.Hub.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	member := env.MemberClient(t, localMember)
	framework.Eventually(t, time.Minute, func() error {
		_, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err
	})

	ag.kill()
	framework.Eventually(t, leaseDuration+20*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionTrue, registration.ReasonLeaseExpired)
	})
	// The not-ready taint is on and the 1 s toleration long over: the
	// placement must still be the offline cluster, for several seconds.
	framework.Eventually(t, 30*time.Second, func() error {
		c, err := cluster(t, name)
		if err != nil {
			return err
		}
		for _, taint := range c.Spec.Taints {
			if taint.Key == clusterv1alpha1.TaintNotReady && taint.TimeAdded != nil && time.Since(taint.TimeAdded.Time) > 3*time.Second {
				return nil
			}
		}
		return fmt.Errorf("no not-ready taint older than the toleration yet: %v", c.Spec.Taints)
	})
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		var b workv1alpha1.ResourceBinding
		if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-deployment"}, &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Spec.Clusters) != 1 || b.Spec.Clusters[0].Name != name || len(b.Spec.Evictions) != 0 {
			t.Fatalf("the offline edge cluster lost its workload: clusters %+v, evictions %+v", b.Spec.Clusters, b.Spec.Evictions)
		}
		// Not merely blocked for want of another cluster: not leaving at all.
		if c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionScheduled); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("Scheduled = %+v: the scheduler wants the workload off the offline cluster", c)
		}
	}
	if _, err := member.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the workload is gone from the offline cluster: %v", err)
	}
}
