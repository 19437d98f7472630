package propagation

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestArrivals(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var a arrivals
	for i := range 30 {
		a.add(t0.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	for i := range 20 {
		a.add(t0.Add(time.Second + time.Duration(i)*10*time.Millisecond))
	}
	if n := a.recent(t0.Add(1500 * time.Millisecond)); n != 50 {
		t.Fatalf("recent = %d in the second and the one before, want 50", n)
	}
	if n := a.recent(t0.Add(2 * time.Second)); n != 20 {
		t.Fatalf("recent = %d a second later, want the 20 of the last second", n)
	}
	if n := a.recent(t0.Add(10 * time.Second)); n != 0 {
		t.Fatalf("recent = %d after a quiet while, want 0", n)
	}
}

func TestHoldable(t *testing.T) {
	ok := func(c string) workv1alpha1.ClusterStatus {
		return workv1alpha1.ClusterStatus{Cluster: c, Applied: true, Reason: workv1alpha1.ReasonApplied, Health: workv1alpha1.HealthProgressing}
	}
	unhealthy := ok("m2")
	unhealthy.Health = workv1alpha1.HealthUnhealthy
	failed := ok("m2")
	failed.Applied, failed.Reason = false, workv1alpha1.ReasonApplyFailed
	for name, tc := range map[string]struct {
		have, results []workv1alpha1.ClusterStatus
		want          bool
	}{
		"new binding, applied everywhere":        {nil, []workv1alpha1.ClusterStatus{ok("m1"), ok("m2")}, true},
		"a cluster added":                        {[]workv1alpha1.ClusterStatus{ok("m1")}, []workv1alpha1.ClusterStatus{ok("m1"), ok("m2")}, true},
		"a cluster failed to apply":              {nil, []workv1alpha1.ClusterStatus{ok("m1"), failed}, false},
		"unhealthy somewhere: failover reads it": {nil, []workv1alpha1.ClusterStatus{ok("m1"), unhealthy}, false},
		"a cluster left":                         {[]workv1alpha1.ClusterStatus{ok("m1"), ok("m2")}, []workv1alpha1.ClusterStatus{ok("m1")}, false},
	} {
		if got := holdable(tc.have, tc.results); got != tc.want {
			t.Errorf("%s: holdable = %v, want %v", name, got, tc.want)
		}
	}
}

func TestSettleStaysBusyThroughAPause(t *testing.T) {
	t0 := time.Now()
	var s settle
	if s.busy(false, t0) {
		t.Fatal("busy before any sign of a burst")
	}
	if !s.busy(true, t0) {
		t.Fatal("not busy while the signal is on")
	}
	// A pause shorter than burstQuiet is still the burst.
	if !s.busy(false, t0.Add(burstQuiet-time.Millisecond)) {
		t.Fatal("a pause inside a burst ended it")
	}
	if s.busy(false, t0.Add(burstQuiet)) {
		t.Fatal("still busy burstQuiet after the last sign of a burst")
	}
	// A new sign restarts the wait from itself.
	if !s.busy(true, t0.Add(10*time.Second)) || !s.busy(false, t0.Add(10*time.Second+burstQuiet/2)) {
		t.Fatal("a second burst was not seen")
	}
	if s.busy(false, t0.Add(10*time.Second+burstQuiet)) {
		t.Fatal("the second burst did not end")
	}
	// A sample taken earlier but recorded later does not move the end
	// of the burst back.
	s.busy(true, t0.Add(20*time.Second))
	s.busy(true, t0.Add(19*time.Second))
	if !s.busy(false, t0.Add(20*time.Second+burstQuiet-time.Millisecond)) {
		t.Fatal("an older sample moved the end of the burst back")
	}
}

func TestRecentBindings(t *testing.T) {
	var r recentBindings
	now := time.Now()
	a := types.NamespacedName{Namespace: "ns", Name: "a-deployment"}
	if r.inFlight(a, now) {
		t.Fatal("a binding never created is in flight")
	}
	r.add(a, now)
	if !r.inFlight(a, now.Add(time.Second)) {
		t.Fatal("a binding created a second ago is not in flight")
	}
	r.seen(a)
	if r.inFlight(a, now.Add(time.Second)) {
		t.Fatal("a binding the cache holds is still in flight")
	}
	r.add(a, now)
	if r.inFlight(a, now.Add(createdGrace)) {
		t.Fatal("a binding created createdGrace ago is still in flight")
	}
	if len(r.at) != 0 {
		t.Fatalf("an expired entry was kept: %v", r.at)
	}
	// Entries never looked at again are dropped as more are added.
	for i := range 2048 {
		r.add(types.NamespacedName{Namespace: "ns", Name: fmt.Sprint(i)}, now)
	}
	r.add(types.NamespacedName{Namespace: "ns", Name: "late"}, now.Add(createdGrace))
	if len(r.at) != 1 {
		t.Fatalf("%d entries kept, want only the late one", len(r.at))
	}
}
