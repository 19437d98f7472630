package registration

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

type heartbeatFixture struct {
	t     *testing.T
	clock *clocktesting.FakePassiveClock
	c     client.Client
	r     *HeartbeatReconciler
}

func newHeartbeatFixture(t *testing.T, objs ...client.Object) *heartbeatFixture {
	clock := clocktesting.NewFakePassiveClock(testNow)
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(objs...).
		WithStatusSubresource(&clusterv1alpha1.Cluster{}).Build()
	return &heartbeatFixture{t: t, clock: clock, c: c, r: NewHeartbeatReconciler(c, events.NewFakeRecorder(100), WithClock(clock))}
}

// renew writes the lease as the agent would, with the agent's clock.
func (f *heartbeatFixture) renew(cluster string, agentTime time.Time) {
	f.t.Helper()
	ctx := context.Background()
	rt := metav1.NewMicroTime(agentTime)
	var l coordinationv1.Lease
	key := client.ObjectKey{Namespace: ClusterNamespace(cluster), Name: LeaseName(cluster)}
	if err := f.c.Get(ctx, key, &l); err != nil {
		l = coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr(int32(40)), RenewTime: &rt}}
		if err := f.c.Create(ctx, &l); err != nil {
			f.t.Fatal(err)
		}
		return
	}
	l.Spec.RenewTime = &rt
	if err := f.c.Update(ctx, &l); err != nil {
		f.t.Fatal(err)
	}
}

// reconcile runs the controller and returns the cluster's Ready and
// Offline conditions and the requeue.
func (f *heartbeatFixture) reconcile(cluster string) (ready, offline *metav1.Condition, after time.Duration) {
	f.t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: cluster}})
	if err != nil {
		f.t.Fatalf("Reconcile: %v", err)
	}
	var c clusterv1alpha1.Cluster
	if err := f.c.Get(context.Background(), client.ObjectKey{Name: cluster}, &c); err != nil {
		f.t.Fatal(err)
	}
	return meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady),
		meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionOffline), res.RequeueAfter
}

func expect(t *testing.T, what string, c *metav1.Condition, status metav1.ConditionStatus, reason string) {
	t.Helper()
	if c == nil || c.Status != status || c.Reason != reason {
		t.Errorf("%s = %+v, want %s/%s", what, c, status, reason)
	}
}

func TestHeartbeatOfflineAndBack(t *testing.T) {
	f := newHeartbeatFixture(t, pullCluster("edge-1", "tok123", testRegistrationID))

	ready, offline, _ := f.reconcile("edge-1")
	expect(t, "Ready before any heartbeat", ready, metav1.ConditionFalse, ReasonAwaitingAgent)
	expect(t, "Offline before any heartbeat", offline, metav1.ConditionUnknown, ReasonAwaitingAgent)

	// The agent's clock runs 10 minutes ahead: the hub times the lease by
	// its own clock.
	f.renew("edge-1", testNow.Add(10*time.Minute))
	ready, offline, after := f.reconcile("edge-1")
	expect(t, "Ready after a heartbeat", ready, metav1.ConditionTrue, ReasonHeartbeating)
	expect(t, "Offline after a heartbeat", offline, metav1.ConditionFalse, ReasonHeartbeating)
	if got := testutil.ToFloat64(metrics.ClusterReady.WithLabelValues("edge-1")); got != 1 {
		t.Errorf("flotilla_cluster_ready = %g while heartbeating, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.ClusterLastHeartbeat.WithLabelValues("edge-1")); got != float64(testNow.Unix()) {
		t.Errorf("flotilla_cluster_last_heartbeat_timestamp_seconds = %g, want the hub's time of the renewal %d", got, testNow.Unix())
	}
	if after < 39*time.Second || after > 41*time.Second {
		t.Errorf("requeue after %s, want the lease's 40s", after)
	}

	f.clock.SetTime(testNow.Add(39 * time.Second))
	_, offline, _ = f.reconcile("edge-1")
	expect(t, "Offline within the lease", offline, metav1.ConditionFalse, ReasonHeartbeating)

	f.clock.SetTime(testNow.Add(41 * time.Second))
	ready, offline, after = f.reconcile("edge-1")
	expect(t, "Ready once the lease ran out", ready, metav1.ConditionFalse, ReasonOffline)
	expect(t, "Offline once the lease ran out", offline, metav1.ConditionTrue, ReasonLeaseExpired)
	if got := testutil.ToFloat64(metrics.ClusterReady.WithLabelValues("edge-1")); got != 0 {
		t.Errorf("flotilla_cluster_ready = %g while offline, want 0", got)
	}
	if after != 0 {
		t.Errorf("an offline cluster requeues after %s; the lease's next renewal brings it back", after)
	}
	if !offline.LastTransitionTime.Time.Equal(testNow.Add(41 * time.Second)) {
		t.Errorf("Offline turned True at %s", offline.LastTransitionTime)
	}

	f.renew("edge-1", testNow.Add(11*time.Minute))
	ready, offline, _ = f.reconcile("edge-1")
	expect(t, "Ready after the agent came back", ready, metav1.ConditionTrue, ReasonHeartbeating)
	expect(t, "Offline after the agent came back", offline, metav1.ConditionFalse, ReasonHeartbeating)
}

func TestHeartbeatAfterHubRestart(t *testing.T) {
	// A lease last renewed two minutes ago by a correct clock: offline at
	// once, although this hub never saw it change.
	f := newHeartbeatFixture(t, pullCluster("edge-1", "tok123", testRegistrationID))
	f.renew("edge-1", testNow.Add(-2*time.Minute))
	ready, offline, _ := f.reconcile("edge-1")
	expect(t, "Ready", ready, metav1.ConditionFalse, ReasonOffline)
	expect(t, "Offline", offline, metav1.ConditionTrue, ReasonLeaseExpired)
}

func TestHeartbeatAwaitingAcceptance(t *testing.T) {
	c := pullCluster("edge-1", "tok123", testRegistrationID)
	c.Annotations[AnnotationAcceptance] = AcceptancePending
	f := newHeartbeatFixture(t, c)
	ready, _, _ := f.reconcile("edge-1")
	expect(t, "Ready", ready, metav1.ConditionFalse, ReasonAwaitingAcceptance)
}

func TestHeartbeatIgnoresPushClusters(t *testing.T) {
	f := newHeartbeatFixture(t, &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "m1"},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push}})
	ready, offline, _ := f.reconcile("m1")
	if ready != nil || offline != nil {
		t.Errorf("a Push cluster got conditions: %+v %+v", ready, offline)
	}
}

func TestLeaseCluster(t *testing.T) {
	tests := map[string]struct{ ns, name, want string }{
		"a cluster's lease":   {ClusterNamespace("edge-1"), "edge-1", "edge-1"},
		"another lease there": {ClusterNamespace("edge-1"), "other", ""},
		"a lease elsewhere":   {"kube-system", "edge-1", ""},
		"the bare prefix":     {ClusterNamespace(""), "", ""},
	}
	for name, tc := range tests {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: tc.name}}
		if got := leaseCluster(l); got != tc.want {
			t.Errorf("%s: leaseCluster = %q, want %q", name, got, tc.want)
		}
	}
}
