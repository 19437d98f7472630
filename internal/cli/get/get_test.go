package get

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func cluster(name, region string, nodes int32, ready metav1.ConditionStatus, age time.Duration) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)), Labels: map[string]string{"environment": "production"}},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://127.0.0.1:6443", Region: region, Provider: "cloud", Zone: region + "-1",
			SecretRef: &clusterv1alpha1.SecretReference{Namespace: "flotilla-system", Name: "cluster-" + name}},
		Status: clusterv1alpha1.ClusterStatus{
			KubernetesVersion: "v1.37.2",
			NodeSummary:       &clusterv1alpha1.NodeSummary{Total: nodes, Ready: nodes},
			Conditions: []metav1.Condition{{Type: clusterv1alpha1.ConditionReady, Status: ready, Reason: clusterv1alpha1.ReasonHealthy,
				LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

func TestClustersGolden(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		cluster("member-cluster-1", "cloud-a", 3, metav1.ConditionTrue, 41*time.Second),
		cluster("member-cluster-2", "cloud-b", 3, metav1.ConditionTrue, 41*time.Second),
		cluster("edge-cluster", "edge-1", 2, metav1.ConditionFalse, 3*time.Hour),
	).Build()
	for _, tc := range []struct{ format, file string }{
		{"", "clusters.txt"}, {"wide", "clusters-wide.txt"}, {"name", "clusters-name.txt"}, {"yaml", "clusters.yaml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := Clusters(context.Background(), c, &b, nil, tc.format, now); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
	var b bytes.Buffer
	if err := Clusters(context.Background(), c, &b, []string{"nope"}, "", now); err == nil || err.Error() != "cluster nope not found" {
		t.Errorf("unknown name: got %v", err)
	}
}

func TestClustersWideTaints(t *testing.T) {
	cordoned := cluster("member-cluster-2", "cloud-b", 3, metav1.ConditionTrue, 41*time.Second)
	cordoned.Spec.Taints = []corev1.Taint{
		{Key: clusterv1alpha1.TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule},
		{Key: clusterv1alpha1.TaintUnschedulable, Effect: corev1.TaintEffectNoExecute},
	}
	down := cluster("edge-cluster", "edge-1", 2, metav1.ConditionFalse, 3*time.Hour)
	down.Spec.Taints = []corev1.Taint{
		{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule},
		{Key: clusterv1alpha1.TaintNotReady, Effect: corev1.TaintEffectNoExecute},
	}
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		cluster("member-cluster-1", "cloud-a", 3, metav1.ConditionTrue, 41*time.Second), cordoned, down).Build()
	var b bytes.Buffer
	if err := Clusters(context.Background(), c, &b, nil, "wide", now); err != nil {
		t.Fatal(err)
	}
	golden(t, "clusters-wide-taints.txt", b.Bytes())
}
