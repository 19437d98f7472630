package member

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, ready, unschedulable bool, cpu, mem string) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
		},
	}
}

func pod(nodeName string, cpu string) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
	}}}}
}

func TestSummarize(t *testing.T) {
	nodes := []any{
		node("a", true, false, "4", "8Gi"),
		node("b", true, false, "4", "8Gi"),
		node("cordoned", true, true, "4", "8Gi"),
		node("broken", false, false, "4", "8Gi"),
	}
	pods := []any{pod("a", "500m"), pod("b", "1"), pod("", "250m")}
	ns, rs := Summarize(nodes, pods)
	if ns.Total != 4 || ns.Ready != 3 {
		t.Errorf("node summary %+v, want 4 total, 3 ready", ns)
	}
	check := func(what string, got corev1.ResourceList, name corev1.ResourceName, want string) {
		t.Helper()
		q := got[name]
		if q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("%s %s = %s, want %s", what, name, q.String(), want)
		}
	}
	// Only the two ready, schedulable nodes count.
	check("allocatable", rs.Allocatable, corev1.ResourceCPU, "8")
	check("allocatable", rs.Allocatable, corev1.ResourceMemory, "16Gi")
	check("allocatable", rs.Allocatable, corev1.ResourcePods, "220")
	check("requested", rs.Requested, corev1.ResourceCPU, "1500m")
	check("requested", rs.Requested, corev1.ResourcePods, "2")
	check("allocating", rs.Allocating, corev1.ResourceCPU, "250m")
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	cases := map[string]struct {
		pod  corev1.PodSpec
		want string
	}{
		"containers add up": {
			pod:  corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}, {Resources: req("500m")}}},
			want: "1500m",
		},
		"a larger init container wins": {
			pod:  corev1.PodSpec{InitContainers: []corev1.Container{{Resources: req("3")}}, Containers: []corev1.Container{{Resources: req("1")}}},
			want: "3",
		},
		"sidecars add to containers and to later init containers": {
			pod: corev1.PodSpec{
				InitContainers: []corev1.Container{{Resources: req("1"), RestartPolicy: &always}, {Resources: req("2")}},
				Containers:     []corev1.Container{{Resources: req("500m")}},
			},
			want: "3",
		},
		"overhead is added": {
			pod:  corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}}, Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
			want: "1100m",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := PodRequests(&corev1.Pod{Spec: tc.pod})
			q, want := got[corev1.ResourceCPU], resource.MustParse(tc.want)
			if diff := cmp.Diff(want.MilliValue(), q.MilliValue()); diff != "" {
				t.Errorf("cpu request (-want +got):\n%s", diff)
			}
		})
	}
}
