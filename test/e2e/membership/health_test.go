package membership_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/membership"
	"github.com/flotilla-io/flotilla/test/framework"
)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func clusterReady(name string, want bool) error {
	var c clusterv1alpha1.Cluster
	if err := env.Hub.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		return err
	}
	status := metav1.ConditionFalse
	if want {
		status = metav1.ConditionTrue
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
	if cond == nil || cond.Status != status {
		return fmt.Errorf("cluster %s Ready condition %+v, want %s", name, cond, status)
	}
	return nil
}

func condition(t *testing.T, name, typ string) *metav1.Condition {
	t.Helper()
	var c clusterv1alpha1.Cluster
	if err := env.Hub.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(c.Status.Conditions, typ)
}

func hasEvent(name, reason string) error {
	var evs corev1.EventList
	if err := env.Hub.List(context.Background(), &evs, client.MatchingFields{"involvedObject.name": name}); err != nil {
		return err
	}
	var seen []string
	for _, e := range evs.Items {
		if e.Reason == reason {
			return nil
		}
		seen = append(seen, e.Reason)
	}
	return fmt.Errorf("no %s event on cluster %s (have %v)", reason, name, seen)
}

// TestHealthTransitions stops a member's real kube-apiserver process and
// starts it again.
func TestHealthTransitions(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const name = "health-c"
	if _, err := join(t, name, env.Member("member-c").Kubeconfig); err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(func() { _, _ = membership.Unjoin(ctx, env.Hub, name, membership.UnjoinOptions{}) })
	framework.Eventually(t, 60*time.Second, func() error { return clusterReady(name, true) })
	framework.Eventually(t, 30*time.Second, func() error { return hasEvent(name, clusterhealth.EventClusterReady) })

	m := env.Member("member-c")
	stopped := time.Now()
	if err := m.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = m.Restart(ctx)
		}
	})
	framework.Eventually(t, 60*time.Second, func() error { return clusterReady(name, false) })
	t.Logf("Ready=False %.1fs after the member's kube-apiserver stopped (interval %s, threshold %d)",
		time.Since(stopped).Seconds(), healthOpts.ProbeInterval, healthOpts.FailureThreshold)
	if c := condition(t, name, clusterv1alpha1.ConditionReady); c.Reason != clusterv1alpha1.ReasonUnreachable {
		t.Errorf("Ready reason %q, want %q (message %q)", c.Reason, clusterv1alpha1.ReasonUnreachable, c.Message)
	}
	if c := condition(t, name, clusterv1alpha1.ConditionReachable); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Reachable condition %+v, want False", c)
	}
	framework.Eventually(t, 30*time.Second, func() error { return hasEvent(name, clusterhealth.EventClusterNotReady) })

	if err := m.Restart(ctx); err != nil {
		t.Fatalf("restart member: %v", err)
	}
	restarted = true
	back := time.Now()
	framework.Eventually(t, 60*time.Second, func() error { return clusterReady(name, true) })
	t.Logf("Ready=True %.1fs after the member's kube-apiserver served again", time.Since(back).Seconds())
	framework.Eventually(t, 60*time.Second, func() error { return clusterReady(name, true) })
}
