package clusterhealth

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

var (
	healthy = member.ProbeResult{Reachable: true, Healthy: true, Reason: clusterv1alpha1.ReasonHealthy, Message: "ok", Version: "v1.37.2"}
	down    = member.ProbeResult{Reason: clusterv1alpha1.ReasonUnreachable, Message: "connection refused"}
)

func ready(c *clusterv1alpha1.Cluster) metav1.ConditionStatus {
	cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
	if cond == nil {
		return ""
	}
	return cond.Status
}

func TestRecordTurnsNotReadyAtThreshold(t *testing.T) {
	r := NewReconciler(nil, nil, Options{ProbeInterval: time.Second, FailureThreshold: 3, MaxBackoff: 8 * time.Second})
	c := &clusterv1alpha1.Cluster{}
	now := metav1.Now()
	steps := []struct {
		res       member.ProbeResult
		wantReady metav1.ConditionStatus
	}{
		{healthy, metav1.ConditionTrue},
		{down, metav1.ConditionTrue},  // 1 failure: tolerated
		{down, metav1.ConditionTrue},  // 2 failures: tolerated
		{down, metav1.ConditionFalse}, // 3 failures: the threshold
		{down, metav1.ConditionFalse},
		{healthy, metav1.ConditionTrue}, // one success is enough
	}
	for i, s := range steps {
		r.record(c, s.res, now)
		if got := ready(c); got != s.wantReady {
			t.Fatalf("step %d: Ready=%s, want %s (failures %d)", i, got, s.wantReady, c.Status.ConsecutiveProbeFailures)
		}
	}
	if c.Status.ConsecutiveProbeFailures != 0 || c.Status.KubernetesVersion != "v1.37.2" {
		t.Errorf("after recovery: failures %d version %q", c.Status.ConsecutiveProbeFailures, c.Status.KubernetesVersion)
	}
}

func TestRecordNeverProbedClusterFailsAtOnce(t *testing.T) {
	r := NewReconciler(nil, nil, Options{ProbeInterval: time.Second, FailureThreshold: 3})
	c := &clusterv1alpha1.Cluster{}
	r.record(c, down, metav1.Now())
	if ready(c) != metav1.ConditionFalse {
		t.Errorf("a cluster that was never ready should be Ready=False after a failed probe, got %s", ready(c))
	}
	reach := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReachable)
	if reach.Status != metav1.ConditionFalse || reach.Reason != clusterv1alpha1.ReasonUnreachable {
		t.Errorf("Reachable = %+v", reach)
	}
}

func TestNextBacksOffAfterThreshold(t *testing.T) {
	r := NewReconciler(nil, nil, Options{ProbeInterval: time.Second, FailureThreshold: 2, MaxBackoff: 5 * time.Second})
	cases := map[int32]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 10: 5 * time.Second}
	for failures, want := range cases {
		c := &clusterv1alpha1.Cluster{Status: clusterv1alpha1.ClusterStatus{ConsecutiveProbeFailures: failures}}
		got := r.next(c)
		lo, hi := time.Duration(float64(want)*0.9), time.Duration(float64(want)*1.1)
		if got < lo || got > hi {
			t.Errorf("failures=%d: next=%s, want %s ±10%%", failures, got, want)
		}
	}
}

func TestStatusChangedIgnoresProbeTimeUntilRefresh(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := NewReconciler(nil, nil, Options{StatusRefresh: time.Minute, FailureThreshold: 1}, WithClock(clk))
	c := &clusterv1alpha1.Cluster{}
	r.record(c, healthy, metav1.NewTime(clk.Now()))
	orig := c.DeepCopy()

	clk.SetTime(clk.Now().Add(10 * time.Second))
	r.record(c, healthy, metav1.NewTime(clk.Now()))
	if r.statusChanged(orig, c) {
		t.Error("only the probe time changed: no write expected")
	}
	clk.SetTime(clk.Now().Add(time.Minute))
	if !r.statusChanged(orig, c) {
		t.Error("probe time older than StatusRefresh: a write is expected")
	}
	c2 := orig.DeepCopy()
	r.record(c2, down, metav1.NewTime(clk.Now()))
	if !r.statusChanged(orig, c2) {
		t.Error("Ready changed: a write is expected")
	}
}
