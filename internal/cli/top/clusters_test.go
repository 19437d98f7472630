package top

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

// clusterBuilder makes test Clusters: MakeCluster("a").Ready().Nodes(3, 3).Obj().
type clusterBuilder struct{ c clusterv1alpha1.Cluster }

func MakeCluster(name string) *clusterBuilder {
	return &clusterBuilder{c: clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}}
}

func (b *clusterBuilder) Ready(s metav1.ConditionStatus) *clusterBuilder {
	b.c.Status.Conditions = append(b.c.Status.Conditions, metav1.Condition{Type: clusterv1alpha1.ConditionReady, Status: s, Reason: "Test"})
	return b
}

func (b *clusterBuilder) Nodes(total, ready int32) *clusterBuilder {
	b.c.Status.NodeSummary = &clusterv1alpha1.NodeSummary{Total: total, Ready: ready}
	return b
}

// Resources sets the summary from cpu, memory and pods triples of
// allocatable, requested and allocating.
func (b *clusterBuilder) Resources(cpu, mem, pods [3]string) *clusterBuilder {
	rs := &clusterv1alpha1.ResourceSummary{Allocatable: corev1.ResourceList{}, Requested: corev1.ResourceList{}, Allocating: corev1.ResourceList{}}
	for _, r := range []struct {
		name corev1.ResourceName
		v    [3]string
	}{{corev1.ResourceCPU, cpu}, {corev1.ResourceMemory, mem}, {corev1.ResourcePods, pods}} {
		for i, l := range []corev1.ResourceList{rs.Allocatable, rs.Requested, rs.Allocating} {
			if r.v[i] != "" {
				l[r.name] = resource.MustParse(r.v[i])
			}
		}
	}
	b.c.Status.ResourceSummary = rs
	return b
}

func (b *clusterBuilder) Obj() *clusterv1alpha1.Cluster { return b.c.DeepCopy() }

// fleet is a cluster of each state top prints: summarized (two sizes), not
// summarized yet, and with nothing allocatable (every node not ready).
func fleet() []client.Object {
	return []client.Object{
		MakeCluster("member-cluster-1").Ready(metav1.ConditionTrue).Nodes(3, 3).
			Resources([3]string{"24", "6500m", "500m"}, [3]string{"96Gi", "1536Mi", "256Mi"}, [3]string{"330", "12", "1"}).Obj(),
		MakeCluster("member-cluster-2").Ready(metav1.ConditionTrue).Nodes(2, 2).
			Resources([3]string{"16", "250m", ""}, [3]string{"64Gi", "48Gi", ""}, [3]string{"220", "3", ""}).Obj(),
		MakeCluster("edge-cluster").Ready(metav1.ConditionFalse).Obj(),
		MakeCluster("lab-cluster").Ready(metav1.ConditionFalse).Nodes(1, 0).
			Resources([3]string{"", "100m", ""}, [3]string{"", "64Mi", ""}, [3]string{"", "1", ""}).Obj(),
		MakeCluster("new-cluster").Obj(),
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
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(fleet()...).Build()
	for file, o := range map[string]Options{
		"clusters.txt":             {},
		"clusters-wide.txt":        {Format: "wide"},
		"clusters.json":            {Format: "json"},
		"clusters-sort-cpu.txt":    {SortBy: SortByCPU},
		"clusters-sort-memory.txt": {SortBy: SortByMemory},
		"clusters-named.txt":       {Names: []string{"member-cluster-2", "edge-cluster"}},
	} {
		t.Run(file, func(t *testing.T) {
			var b bytes.Buffer
			if err := Clusters(context.Background(), c, &b, o); err != nil {
				t.Fatal(err)
			}
			golden(t, file, b.Bytes())
		})
	}
}

func TestClustersErrors(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(fleet()...).Build()
	var b bytes.Buffer
	if err := Clusters(context.Background(), c, &b, Options{Names: []string{"nope", "member-cluster-1", "gone"}}); err == nil || err.Error() != "cluster nope, gone not found" {
		t.Errorf("unknown names: got %v", err)
	}
	empty := fake.NewClientBuilder().WithScheme(api.Scheme).Build()
	b.Reset()
	if err := Clusters(context.Background(), empty, &b, Options{}); err != nil {
		t.Fatal(err)
	}
	if want := "No clusters joined. Join one with `flotilla join NAME --cluster-kubeconfig FILE`.\n"; b.String() != want {
		t.Errorf("empty fleet: got %q, want %q", b.String(), want)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		o       Options
		wantErr string
	}{
		"defaults":    {},
		"wide by pod": {o: Options{Format: "wide", SortBy: "pods"}},
		"yaml":        {o: Options{Format: "yaml"}},
		"name":        {o: Options{Format: "name"}, wantErr: `unknown output format "name": top prints a table, wide, json or yaml`},
		"sort by age": {o: Options{SortBy: "age"}, wantErr: `unknown --sort-by "age": use cpu, memory or pods`},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.o.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("got %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "1m": "1m", "250m": "250m", "999m": "999m", "1": "1", "1500m": "1.5", "1999m": "2", "24": "24", "6.54": "6.5",
	} {
		if got := FormatCPU(resource.MustParse(in)); got != want {
			t.Errorf("FormatCPU(%s) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"0": "0", "512": "512", "2Ki": "2Ki", "1000Ki": "1000Ki", "1023.9Ki": "1Mi", "512Mi": "512Mi", "1G": "954Mi",
		"1023.9Mi": "1Gi", "1536Mi": "1.5Gi", "96Gi": "96Gi", "2Ti": "2048Gi",
	} {
		if got := FormatMemory(resource.MustParse(in)); got != want {
			t.Errorf("FormatMemory(%s) = %q, want %q", in, got, want)
		}
	}
	if got := FormatCount(resource.MustParse("330")); got != "330" {
		t.Errorf("FormatCount(330) = %q", got)
	}
}

func TestPercent(t *testing.T) {
	for name, tc := range map[string]struct {
		req, alloc string
		want       *int64
	}{
		"quarter":          {req: "6", alloc: "24", want: ptr(25)},
		"rounded down":     {req: "6500m", alloc: "24", want: ptr(27)},
		"nothing":          {req: "0", alloc: "24", want: ptr(0)},
		"over":             {req: "30", alloc: "24", want: ptr(125)},
		"none allocatable": {req: "100m", alloc: "0"},
		"huge memory":      {req: "512Pi", alloc: "1024Pi", want: ptr(50)},
	} {
		t.Run(name, func(t *testing.T) {
			got := percent(resource.MustParse(tc.req), resource.MustParse(tc.alloc))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("percent(%s, %s) (-want +got):\n%s", tc.req, tc.alloc, diff)
			}
		})
	}
}

func ptr(v int64) *int64 { return &v }
