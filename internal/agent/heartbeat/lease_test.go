package heartbeat

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/registration"
)

func TestRenewCreatesThenRenews(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakeClock(start)
	cs := fake.NewClientset()
	o := Options{Cluster: "edge-1", Holder: "agent@host", Clock: clock}
	if err := Renew(ctx, cs, o); err != nil {
		t.Fatal(err)
	}
	ns := registration.ClusterNamespace("edge-1")
	l, err := cs.CoordinationV1().Leases(ns).Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *l.Spec.HolderIdentity != "agent@host" || *l.Spec.LeaseDurationSeconds != 40 || !l.Spec.RenewTime.Time.Equal(start) ||
		l.Labels[clusterv1alpha1.LabelClusterName] != "edge-1" {
		t.Errorf("created lease = %+v, labels %v", l.Spec, l.Labels)
	}
	clock.Step(10 * time.Second)
	if err := Renew(ctx, cs, o); err != nil {
		t.Fatal(err)
	}
	l, err = cs.CoordinationV1().Leases(ns).Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Spec.RenewTime.Time.Equal(start.Add(10*time.Second)) || !l.Spec.AcquireTime.Time.Equal(start) {
		t.Errorf("renewed lease = renew %s, acquire %s", l.Spec.RenewTime, l.Spec.AcquireTime)
	}
}

func TestRenewExplainsARevokedAgent(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "edge-1", nil)
	})
	err := Renew(context.Background(), cs, Options{Cluster: "edge-1"})
	if err == nil || !strings.Contains(err.Error(), "the cluster was unjoined or its registration revoked") {
		t.Errorf("Renew = %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]Options{
		"lease shorter than the interval": {Interval: 10 * time.Second, LeaseDuration: 5 * time.Second},
		"lease as long as the interval":   {Interval: 10 * time.Second, LeaseDuration: 10 * time.Second},
		"fractional lease":                {Interval: time.Second, LeaseDuration: 2500 * time.Millisecond},
	} {
		if err := o.defaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRunRetriesSoonAfterAFailure: a failed heartbeat is retried after 1 s,
// then 2 s, 4 s, ... up to the interval, so that the hub sees the cluster
// again soon after the link comes back, not at the next 10 s beat.
func TestRunRetriesSoonAfterAFailure(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktesting.NewFakeClock(start)
	cs := fake.NewClientset()
	attempts := make(chan time.Time, 10)
	failures := 3
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		attempts <- clock.Now()
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewServiceUnavailable("the hub is away")
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cs, Options{Cluster: "edge-1", Clock: clock}) }()
	var got []time.Duration
	for _, step := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 0} {
		select {
		case at := <-attempts:
			got = append(got, at.Sub(start))
		case <-time.After(10 * time.Second):
			t.Fatalf("no heartbeat attempt after %v", got)
		}
		if step == 0 {
			break
		}
		deadline := time.Now().Add(10 * time.Second)
		for !clock.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatal("Run does not wait after a failure")
			}
			time.Sleep(time.Millisecond)
		}
		clock.Step(step)
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("attempts at %v, want %v", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
