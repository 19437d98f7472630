package clusterhealth

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

func TestRefreshAPIsAtStatusRefreshCadence(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := NewReconciler(nil, nil, Options{StatusRefresh: time.Minute, FailureThreshold: 1}, WithClock(clk))
	calls := 0
	served := []clusterv1alpha1.APIEnablement{{GroupVersion: "v1", Kinds: []string{"Pod"}}}
	r.discover = func(context.Context, *rest.Config, time.Duration, []clusterv1alpha1.APIEnablement) ([]clusterv1alpha1.APIEnablement, error) {
		calls++
		return served, nil
	}
	probe := func(key string) *clusterv1alpha1.Cluster {
		c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member-1"}}
		r.record(c, healthy, metav1.NewTime(clk.Now()))
		c.Status.APIEnablements = served
		orig := c.DeepCopy()
		r.refreshAPIs(context.Background(), orig, c, &rest.Config{}, key)
		return c
	}
	notReady := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member-1"}}
	c := notReady.DeepCopy()
	r.record(c, healthy, metav1.NewTime(clk.Now()))
	r.refreshAPIs(context.Background(), notReady, c, &rest.Config{}, "k1")
	if calls != 1 || len(c.Status.APIEnablements) != 1 {
		t.Fatalf("a cluster turning ready is discovered: calls=%d enablements=%v", calls, c.Status.APIEnablements)
	}
	clk.SetTime(clk.Now().Add(10 * time.Second))
	probe("k1")
	if calls != 1 {
		t.Errorf("discovered again within StatusRefresh: calls=%d", calls)
	}
	probe("k2")
	if calls != 2 {
		t.Errorf("new credentials should rediscover: calls=%d", calls)
	}
	clk.SetTime(clk.Now().Add(time.Minute))
	probe("k2")
	if calls != 3 {
		t.Errorf("StatusRefresh passed: calls=%d", calls)
	}
	r.discovered.forget("member-1")
	probe("k2")
	if calls != 4 {
		t.Errorf("a forgotten cluster is discovered again: calls=%d", calls)
	}
}
