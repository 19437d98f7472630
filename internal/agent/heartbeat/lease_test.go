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
