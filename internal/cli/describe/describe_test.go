package describe

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestPrintClusterGolden(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	probe, lat := at(3*time.Second), int64(4)
	cl := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "member-cluster-2", CreationTimestamp: at(10 * time.Minute), Labels: map[string]string{"environment": "production"}},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://127.0.0.1:6443", Region: "cloud-b", Provider: "cloud-b", Zone: "cloud-b-1",
			SecretRef: &clusterv1alpha1.SecretReference{Namespace: "flotilla-system", Name: "cluster-member-cluster-2"},
			Taints:    []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}}},
		Status: clusterv1alpha1.ClusterStatus{
			KubernetesVersion: "v1.37.2", LastProbeTime: &probe, ProbeLatencyMilliseconds: &lat, ConsecutiveProbeFailures: 4,
			NodeSummary: &clusterv1alpha1.NodeSummary{Total: 3, Ready: 3},
			ResourceSummary: &clusterv1alpha1.ResourceSummary{
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("24"), corev1.ResourceMemory: resource.MustParse("96Gi"), corev1.ResourcePods: resource.MustParse("330")},
				Requested:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6"), corev1.ResourcePods: resource.MustParse("12")},
			},
			Conditions: []metav1.Condition{
				{Type: "Reachable", Status: metav1.ConditionFalse, Reason: "Unreachable", Message: "connection to https://127.0.0.1:6443 refused: nothing listens there; check that the cluster's API server runs", LastTransitionTime: at(20 * time.Second)},
				{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Unreachable", Message: "connection to https://127.0.0.1:6443 refused: nothing listens there; check that the cluster's API server runs", LastTransitionTime: at(19 * time.Second)},
			},
		},
	}
	events := []corev1.Event{
		{Type: "Warning", Reason: "ClusterNotReady", Message: "cluster is not ready (Unreachable): connection refused", LastTimestamp: at(19 * time.Second), ReportingController: "flotilla-hub"},
		{Type: "Normal", Reason: "ClusterReady", Message: "cluster is ready: the API server answers /readyz with ok", LastTimestamp: at(9 * time.Minute), ReportingController: "flotilla-hub"},
	}
	var b bytes.Buffer
	if err := PrintCluster(&b, cl, nil, events, now); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "cluster.txt")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("describe output differs (-want +got):\n%s", diff)
	}
}

func TestPrintPullClusterGolden(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	renew := metav1.NewMicroTime(now.Add(-95 * time.Second))
	dur := int32(40)
	cl := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "edge-cluster", CreationTimestamp: at(time.Hour), Labels: map[string]string{"location": "edge"}},
		Spec:       clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull, Region: "edge", Offline: clusterv1alpha1.OfflineStayPut},
		Status: clusterv1alpha1.ClusterStatus{
			KubernetesVersion: "v1.37.2",
			NodeSummary:       &clusterv1alpha1.NodeSummary{Total: 1, Ready: 1},
			Conditions: []metav1.Condition{
				{Type: "Offline", Status: metav1.ConditionTrue, Reason: "LeaseExpired", Message: "the agent has not renewed its lease flotilla-cluster-edge-cluster/edge-cluster since 2026-11-24T11:58:25Z; it lasts 40s", LastTransitionTime: at(55 * time.Second)},
				{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Offline", Message: "the cluster is offline: its agent has not heartbeated since 2026-11-24T11:58:25Z", LastTransitionTime: at(55 * time.Second)},
			},
		},
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "flotilla-cluster-edge-cluster", Name: "edge-cluster"},
		Spec: coordinationv1.LeaseSpec{RenewTime: &renew, LeaseDurationSeconds: &dur}}
	for name, l := range map[string]*coordinationv1.Lease{"cluster-pull.txt": lease, "cluster-pull-nolease.txt": nil} {
		var b bytes.Buffer
		if err := PrintCluster(&b, cl, l, nil, now); err != nil {
			t.Fatal(err)
		}
		golden(t, name, b.Bytes())
	}
}
