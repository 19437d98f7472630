package propagation

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// memberObject is an object as a member reports it; spec and status may be
// nil, generation 0 leaves it unset.
func memberObject(apiVersion, kind string, generation int64, spec, status map[string]any) *unstructured.Unstructured {
	u := makeTemplate(apiVersion, kind, "shop", "w", nil)
	if generation != 0 {
		u.SetGeneration(generation)
	}
	if spec != nil {
		u.Object["spec"] = spec
	}
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

// st builds a status or spec map from key, value pairs, with int values
// stored as int64 the way the dynamic client decodes them.
func st(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		v := kv[i+1]
		if n, ok := v.(int); ok {
			v = int64(n)
		}
		m[kv[i].(string)] = v
	}
	return m
}

func TestHealth(t *testing.T) {
	const (
		healthy   = workv1alpha1.HealthHealthy
		unhealthy = workv1alpha1.HealthUnhealthy
		unknown   = workv1alpha1.HealthUnknown
		// A rollout under way: not a failure, for application failover.
		progressing = workv1alpha1.HealthProgressing
	)
	deploy := func(gen int64, spec, status map[string]any) *unstructured.Unstructured {
		return memberObject("apps/v1", "Deployment", gen, spec, status)
	}
	sts := func(gen int64, spec, status map[string]any) *unstructured.Unstructured {
		return memberObject("apps/v1", "StatefulSet", gen, spec, status)
	}
	rs := func(gen int64, spec, status map[string]any) *unstructured.Unstructured {
		return memberObject("apps/v1", "ReplicaSet", gen, spec, status)
	}
	ds := func(gen int64, status map[string]any) *unstructured.Unstructured {
		return memberObject("apps/v1", "DaemonSet", gen, map[string]any{}, status)
	}
	job := func(conds ...map[string]any) *unstructured.Unstructured {
		var status map[string]any
		if conds != nil {
			list := []any{}
			for _, c := range conds {
				list = append(list, c)
			}
			status = map[string]any{"conditions": list}
		}
		return memberObject("batch/v1", "Job", 1, map[string]any{}, status)
	}
	phase := func(apiVersion, kind, p string) *unstructured.Unstructured {
		var status map[string]any
		if p != "" {
			status = st("phase", p)
		}
		return memberObject(apiVersion, kind, 0, map[string]any{}, status)
	}
	svc := func(typ string, ingress []any) *unstructured.Unstructured {
		status := map[string]any{"loadBalancer": map[string]any{}}
		if ingress != nil {
			status["loadBalancer"].(map[string]any)["ingress"] = ingress
		}
		return memberObject("v1", "Service", 0, st("type", typ), status)
	}

	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want string
	}{
		// Deployment
		"Deployment without observedGeneration": {
			obj: deploy(1, st("replicas", 2), st("updatedReplicas", 2, "availableReplicas", 2)), want: unknown,
		},
		"Deployment rolled out": {
			obj: deploy(2, st("replicas", 2), st("observedGeneration", 2, "updatedReplicas", 2, "availableReplicas", 2)), want: healthy,
		},
		"Deployment observed a later generation": {
			obj: deploy(2, st("replicas", 2), st("observedGeneration", 3, "updatedReplicas", 2, "availableReplicas", 2)), want: healthy,
		},
		"Deployment with surplus replicas": {
			obj: deploy(1, st("replicas", 2), st("observedGeneration", 1, "updatedReplicas", 3, "availableReplicas", 3)), want: healthy,
		},
		"Deployment not yet observed": {
			obj: deploy(3, st("replicas", 2), st("observedGeneration", 2, "updatedReplicas", 2, "availableReplicas", 2)), want: progressing,
		},
		"Deployment rolling out": {
			obj: deploy(2, st("replicas", 3), st("observedGeneration", 2, "updatedReplicas", 2, "availableReplicas", 3)), want: progressing,
		},
		"Deployment past its progress deadline": {
			obj: func() *unstructured.Unstructured {
				d := deploy(2, st("replicas", 3), st("observedGeneration", 2, "updatedReplicas", 1, "availableReplicas", 2))
				_ = unstructured.SetNestedSlice(d.Object, []any{map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}}, "status", "conditions")
				return d
			}(), want: unhealthy,
		},
		"Deployment not available": {
			obj: deploy(2, st("replicas", 3), st("observedGeneration", 2, "updatedReplicas", 3, "availableReplicas", 1)), want: unhealthy,
		},
		"Deployment without replicas wants one": {
			obj: deploy(1, map[string]any{}, st("observedGeneration", 1)), want: progressing,
		},
		"Deployment without replicas, one available": {
			obj: deploy(1, map[string]any{}, st("observedGeneration", 1, "updatedReplicas", 1, "availableReplicas", 1)), want: healthy,
		},
		"Deployment scaled to zero": {
			obj: deploy(4, st("replicas", 0), st("observedGeneration", 4)), want: healthy,
		},
		// StatefulSet
		"StatefulSet without observedGeneration": {
			obj: sts(1, st("replicas", 1), st("readyReplicas", 1, "updatedReplicas", 1)), want: unknown,
		},
		"StatefulSet ready and updated": {
			obj: sts(2, st("replicas", 3), st("observedGeneration", 2, "readyReplicas", 3, "updatedReplicas", 3)), want: healthy,
		},
		"StatefulSet not ready": {
			obj: sts(2, st("replicas", 3), st("observedGeneration", 2, "readyReplicas", 2, "updatedReplicas", 3)), want: unhealthy,
		},
		"StatefulSet not updated": {
			obj: sts(2, st("replicas", 3), st("observedGeneration", 2, "readyReplicas", 3, "updatedReplicas", 1)), want: progressing,
		},
		"StatefulSet behind its generation": {
			obj: sts(3, st("replicas", 3), st("observedGeneration", 2, "readyReplicas", 3, "updatedReplicas", 3)), want: progressing,
		},
		// ReplicaSet
		"ReplicaSet ready": {
			obj: rs(1, st("replicas", 2), st("observedGeneration", 1, "readyReplicas", 2)), want: healthy,
		},
		"ReplicaSet without observedGeneration is judged by readiness": {
			obj: rs(1, st("replicas", 2), st("readyReplicas", 2)), want: healthy,
		},
		"ReplicaSet not ready": {
			obj: rs(1, st("replicas", 2), st("observedGeneration", 1, "readyReplicas", 1)), want: unhealthy,
		},
		"ReplicaSet behind its generation": {
			obj: rs(2, st("replicas", 2), st("observedGeneration", 1, "readyReplicas", 2)), want: unhealthy,
		},
		// DaemonSet
		"DaemonSet without observedGeneration": {
			obj: ds(1, st("desiredNumberScheduled", 3, "numberReady", 3, "updatedNumberScheduled", 3)), want: unknown,
		},
		"DaemonSet ready everywhere": {
			obj: ds(1, st("observedGeneration", 1, "desiredNumberScheduled", 3, "numberReady", 3, "updatedNumberScheduled", 3)), want: healthy,
		},
		"DaemonSet on no nodes": {
			obj: ds(1, st("observedGeneration", 1, "desiredNumberScheduled", 0)), want: healthy,
		},
		"DaemonSet not ready everywhere": {
			obj: ds(1, st("observedGeneration", 1, "desiredNumberScheduled", 3, "numberReady", 2, "updatedNumberScheduled", 3)), want: unhealthy,
		},
		"DaemonSet not updated everywhere": {
			obj: ds(1, st("observedGeneration", 1, "desiredNumberScheduled", 3, "numberReady", 3, "updatedNumberScheduled", 2)), want: progressing,
		},
		"DaemonSet behind its generation": {
			obj: ds(2, st("observedGeneration", 1, "desiredNumberScheduled", 3, "numberReady", 3, "updatedNumberScheduled", 3)), want: progressing,
		},
		// Job
		"Job without status":   {obj: job(), want: healthy},
		"Job running":          {obj: job(st("type", "Suspended", "status", "False")), want: healthy},
		"Job complete":         {obj: job(st("type", "Complete", "status", "True")), want: healthy},
		"Job failed":           {obj: job(st("type", "Complete", "status", "False"), st("type", "Failed", "status", "True")), want: unhealthy},
		"Job failure resolved": {obj: job(st("type", "Failed", "status", "False")), want: healthy},
		// Pod
		"Pod Running":    {obj: phase("v1", "Pod", "Running"), want: healthy},
		"Pod Succeeded":  {obj: phase("v1", "Pod", "Succeeded"), want: healthy},
		"Pod Pending":    {obj: phase("v1", "Pod", "Pending"), want: unhealthy},
		"Pod Failed":     {obj: phase("v1", "Pod", "Failed"), want: unhealthy},
		"Pod no phase":   {obj: phase("v1", "Pod", ""), want: unhealthy},
		"Pod of a CRD":   {obj: phase("example.com/v1", "Pod", "Pending"), want: healthy},
		"PVC Bound":      {obj: phase("v1", "PersistentVolumeClaim", "Bound"), want: healthy},
		"PVC Pending":    {obj: phase("v1", "PersistentVolumeClaim", "Pending"), want: unhealthy},
		"PVC Lost":       {obj: phase("v1", "PersistentVolumeClaim", "Lost"), want: unhealthy},
		"PVC no status":  {obj: phase("v1", "PersistentVolumeClaim", ""), want: unhealthy},
		"ConfigMap":      {obj: memberObject("v1", "ConfigMap", 0, nil, nil), want: healthy},
		"CRD Deployment": {obj: memberObject("example.com/v1", "Deployment", 2, st("replicas", 3), st("observedGeneration", 1)), want: healthy},
		// Service
		"ClusterIP Service":                  {obj: svc("ClusterIP", nil), want: healthy},
		"LoadBalancer Service with ingress":  {obj: svc("LoadBalancer", []any{map[string]any{"ip": "203.0.113.7"}}), want: healthy},
		"LoadBalancer Service, no ingress":   {obj: svc("LoadBalancer", nil), want: unhealthy},
		"LoadBalancer Service, empty list":   {obj: svc("LoadBalancer", []any{}), want: unhealthy},
		"NodePort Service without ingress":   {obj: svc("NodePort", nil), want: healthy},
		"LoadBalancer Service with hostname": {obj: svc("LoadBalancer", []any{map[string]any{"hostname": "lb.example.com"}}), want: healthy},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := health(tc.obj); got != tc.want {
				t.Errorf("health() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTrimmedStatus(t *testing.T) {
	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want map[string]any
	}{
		"Deployment keeps its counters only": {
			obj: memberObject("apps/v1", "Deployment", 2, nil, map[string]any{
				"observedGeneration": int64(2),
				"replicas":           int64(3), "readyReplicas": int64(2), "availableReplicas": int64(2),
				"updatedReplicas": int64(3), "unavailableReplicas": int64(1),
				"collisionCount": int64(1),
				"conditions":     []any{map[string]any{"type": "Available", "status": "True"}},
			}),
			want: map[string]any{
				"replicas": int64(3), "readyReplicas": int64(2), "availableReplicas": int64(2),
				"updatedReplicas": int64(3), "unavailableReplicas": int64(1),
			},
		},
		"Deployment reports only what is set": {
			obj:  memberObject("apps/v1", "Deployment", 1, nil, st("replicas", 1)),
			want: map[string]any{"replicas": int64(1)},
		},
		"Deployment without status": {
			obj:  memberObject("apps/v1", "Deployment", 1, nil, nil),
			want: map[string]any{},
		},
		"StatefulSet": {
			obj: memberObject("apps/v1", "StatefulSet", 1, nil, st("replicas", 3, "readyReplicas", 3, "currentReplicas", 3,
				"updatedReplicas", 3, "availableReplicas", 2, "currentRevision", "web-1")),
			want: st("replicas", 3, "readyReplicas", 3, "currentReplicas", 3, "updatedReplicas", 3, "availableReplicas", 2),
		},
		"ReplicaSet": {
			obj:  memberObject("apps/v1", "ReplicaSet", 1, nil, st("replicas", 2, "fullyLabeledReplicas", 2, "readyReplicas", 1, "availableReplicas", 1, "observedGeneration", 1)),
			want: st("replicas", 2, "fullyLabeledReplicas", 2, "readyReplicas", 1, "availableReplicas", 1),
		},
		"DaemonSet": {
			obj: memberObject("apps/v1", "DaemonSet", 1, nil, st("currentNumberScheduled", 2, "desiredNumberScheduled", 2, "numberAvailable", 2,
				"numberMisscheduled", 0, "numberReady", 2, "numberUnavailable", 0, "updatedNumberScheduled", 2, "observedGeneration", 1)),
			want: st("currentNumberScheduled", 2, "desiredNumberScheduled", 2, "numberAvailable", 2,
				"numberMisscheduled", 0, "numberReady", 2, "numberUnavailable", 0, "updatedNumberScheduled", 2),
		},
		"Job": {
			obj:  memberObject("batch/v1", "Job", 1, nil, st("active", 1, "succeeded", 2, "failed", 1, "ready", 1, "startTime", "2024-01-01T00:00:00Z")),
			want: st("active", 1, "succeeded", 2, "failed", 1, "ready", 1),
		},
		"ConfigMap is not aggregated": {
			obj:  memberObject("v1", "ConfigMap", 0, nil, nil),
			want: nil,
		},
		"Pod is not aggregated": {
			obj:  memberObject("v1", "Pod", 0, nil, st("phase", "Running")),
			want: nil,
		},
		"Deployment of a CRD is not aggregated": {
			obj:  memberObject("example.com/v1", "Deployment", 1, nil, st("replicas", 2)),
			want: nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := trimmedStatus(tc.obj)
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("trimmedStatus() = %#v, want %#v", got, tc.want)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("trimmedStatus() (-want +got):\n%s", diff)
			}
		})
	}
}

// rawStatus is how execution reads a ClusterStatus back: JSON, so every
// number is a float64.
func rawStatus(cs workv1alpha1.ClusterStatus) map[string]any {
	if cs.Status == nil {
		return nil
	}
	var out map[string]any
	_ = json.Unmarshal(cs.Status.Raw, &out)
	return out
}

func clusterStatus(t *testing.T, name string, status map[string]any) workv1alpha1.ClusterStatus {
	t.Helper()
	cs := workv1alpha1.ClusterStatus{Cluster: name}
	if status != nil {
		raw, err := json.Marshal(status)
		if err != nil {
			t.Fatal(err)
		}
		cs.Status = &runtime.RawExtension{Raw: raw}
	}
	return cs
}

func TestAggregate(t *testing.T) {
	// inMemory serves statuses as int64, keyed by cluster name.
	inMemory := func(m map[string]map[string]any) func(workv1alpha1.ClusterStatus) map[string]any {
		return func(cs workv1alpha1.ClusterStatus) map[string]any { return m[cs.Cluster] }
	}
	zeroDeployment := st("replicas", 0, "readyReplicas", 0, "availableReplicas", 0, "updatedReplicas", 0, "unavailableReplicas", 0)

	cases := map[string]struct {
		apiVersion, kind string
		generation       int64
		clusters         []workv1alpha1.ClusterStatus
		raw              func(workv1alpha1.ClusterStatus) map[string]any
		want             map[string]any
	}{
		"Deployment over two clusters, from JSON": {
			apiVersion: "apps/v1", kind: "Deployment", generation: 5,
			clusters: []workv1alpha1.ClusterStatus{
				clusterStatus(t, "a", st("replicas", 2, "readyReplicas", 2, "availableReplicas", 2, "updatedReplicas", 2)),
				clusterStatus(t, "b", st("replicas", 3, "readyReplicas", 1, "availableReplicas", 1, "updatedReplicas", 3, "unavailableReplicas", 2)),
			},
			raw: rawStatus,
			want: st("replicas", 5, "readyReplicas", 3, "availableReplicas", 3, "updatedReplicas", 5, "unavailableReplicas", 2,
				"observedGeneration", 5),
		},
		"int64 and float64 values are summed alike": {
			apiVersion: "apps/v1", kind: "Deployment", generation: 1,
			clusters: []workv1alpha1.ClusterStatus{{Cluster: "a"}, {Cluster: "b"}},
			raw: inMemory(map[string]map[string]any{
				"a": {"replicas": int64(2), "readyReplicas": float64(1)},
				"b": {"replicas": float64(4), "readyReplicas": int64(3)},
			}),
			want: st("replicas", 6, "readyReplicas", 4, "availableReplicas", 0, "updatedReplicas", 0, "unavailableReplicas", 0,
				"observedGeneration", 1),
		},
		"fields the kind does not aggregate are ignored": {
			apiVersion: "apps/v1", kind: "Deployment", generation: 2,
			clusters: []workv1alpha1.ClusterStatus{{Cluster: "a"}},
			raw: inMemory(map[string]map[string]any{
				"a": {"replicas": int64(1), "collisionCount": int64(9), "observedGeneration": int64(7), "phase": "Running"},
			}),
			want: st("replicas", 1, "readyReplicas", 0, "availableReplicas", 0, "updatedReplicas", 0, "unavailableReplicas", 0,
				"observedGeneration", 2),
		},
		"clusters without status count as zero": {
			apiVersion: "apps/v1", kind: "Deployment", generation: 3,
			clusters: []workv1alpha1.ClusterStatus{clusterStatus(t, "a", nil), clusterStatus(t, "b", nil)},
			raw:      rawStatus,
			want: func() map[string]any {
				m := st("observedGeneration", 3)
				for k, v := range zeroDeployment {
					m[k] = v
				}
				return m
			}(),
		},
		"no clusters": {
			apiVersion: "apps/v1", kind: "Deployment", generation: 1,
			raw: rawStatus,
			want: func() map[string]any {
				m := st("observedGeneration", 1)
				for k, v := range zeroDeployment {
					m[k] = v
				}
				return m
			}(),
		},
		"StatefulSet": {
			apiVersion: "apps/v1", kind: "StatefulSet", generation: 2,
			clusters: []workv1alpha1.ClusterStatus{
				clusterStatus(t, "a", st("replicas", 1, "readyReplicas", 1, "currentReplicas", 1, "updatedReplicas", 1, "availableReplicas", 1)),
				clusterStatus(t, "b", st("replicas", 2, "readyReplicas", 2, "currentReplicas", 2, "updatedReplicas", 0, "availableReplicas", 2)),
			},
			raw:  rawStatus,
			want: st("replicas", 3, "readyReplicas", 3, "currentReplicas", 3, "updatedReplicas", 1, "availableReplicas", 3, "observedGeneration", 2),
		},
		"DaemonSet": {
			apiVersion: "apps/v1", kind: "DaemonSet", generation: 1,
			clusters: []workv1alpha1.ClusterStatus{
				clusterStatus(t, "a", st("desiredNumberScheduled", 3, "numberReady", 3, "updatedNumberScheduled", 3, "currentNumberScheduled", 3, "numberAvailable", 3)),
				clusterStatus(t, "b", st("desiredNumberScheduled", 2, "numberReady", 1, "numberUnavailable", 1, "currentNumberScheduled", 2, "numberMisscheduled", 1)),
			},
			raw: rawStatus,
			want: st("currentNumberScheduled", 5, "desiredNumberScheduled", 5, "numberAvailable", 3, "numberMisscheduled", 1,
				"numberReady", 4, "numberUnavailable", 1, "updatedNumberScheduled", 3, "observedGeneration", 1),
		},
		"Job has no observedGeneration": {
			apiVersion: "batch/v1", kind: "Job", generation: 1,
			clusters: []workv1alpha1.ClusterStatus{
				clusterStatus(t, "a", st("active", 1, "ready", 1)),
				clusterStatus(t, "b", st("succeeded", 1, "failed", 2)),
			},
			raw:  rawStatus,
			want: st("active", 1, "succeeded", 1, "failed", 2, "ready", 1),
		},
		"ConfigMap is not aggregated": {
			apiVersion: "v1", kind: "ConfigMap", generation: 1,
			clusters: []workv1alpha1.ClusterStatus{clusterStatus(t, "a", st("replicas", 1))},
			raw:      rawStatus,
			want:     nil,
		},
		"Deployment of a CRD is not aggregated": {
			apiVersion: "example.com/v1", kind: "Deployment", generation: 1,
			clusters: []workv1alpha1.ClusterStatus{clusterStatus(t, "a", st("replicas", 1))},
			raw:      rawStatus,
			want:     nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := aggregate(tc.apiVersion, tc.kind, tc.generation, true, tc.clusters, tc.raw)
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("aggregate() = %#v, want %#v", got, tc.want)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("aggregate() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTrimmedStatusAggregateRoundTrip follows a status the way execution
// does: trimmed in each member, stored as JSON in the binding, summed.
func TestTrimmedStatusAggregateRoundTrip(t *testing.T) {
	var clusters []workv1alpha1.ClusterStatus
	for i, ready := range []int{2, 1} {
		live := memberObject("apps/v1", "Deployment", 1, st("replicas", 2),
			st("observedGeneration", 1, "replicas", 2, "readyReplicas", ready, "availableReplicas", ready, "updatedReplicas", 2))
		clusters = append(clusters, clusterStatus(t, string(rune('a'+i)), trimmedStatus(live)))
	}
	want := st("replicas", 4, "readyReplicas", 3, "availableReplicas", 3, "updatedReplicas", 4, "unavailableReplicas", 0, "observedGeneration", 9)
	if diff := cmp.Diff(want, aggregate("apps/v1", "Deployment", 9, true, clusters, rawStatus)); diff != "" {
		t.Errorf("aggregate(trimmedStatus()) (-want +got):\n%s", diff)
	}
	// While a member has not acted on the current spec, the hub keeps its
	// old observedGeneration: a rollout must not look finished early.
	delete(want, "observedGeneration")
	if diff := cmp.Diff(want, aggregate("apps/v1", "Deployment", 9, false, clusters, rawStatus)); diff != "" {
		t.Errorf("aggregate(not current) (-want +got):\n%s", diff)
	}
}
