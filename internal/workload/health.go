// Package workload holds what Flotilla knows of workload kinds wherever it
// applies them, on the hub (Push clusters) and in an agent (Pull clusters):
// the health rule of each kind and the status fields reported per cluster.
package workload

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// StatusFields are, per workload kind, the integer status fields the hub
// reports per cluster and sums onto the template.
var StatusFields = map[string][]string{
	"apps/v1/Deployment":  {"replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "unavailableReplicas"},
	"apps/v1/StatefulSet": {"replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"},
	"apps/v1/ReplicaSet":  {"replicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"},
	"apps/v1/DaemonSet": {"currentNumberScheduled", "desiredNumberScheduled", "numberAvailable", "numberMisscheduled",
		"numberReady", "numberUnavailable", "updatedNumberScheduled"},
	"batch/v1/Job": {"active", "succeeded", "failed", "ready"},
}

// KindKey is "apiVersion/kind".
func KindKey(apiVersion, kind string) string { return apiVersion + "/" + kind }

// TrimmedStatus returns the status fields of live the hub keeps, or nil for
// kinds it does not aggregate.
func TrimmedStatus(live *unstructured.Unstructured) map[string]any {
	fields, ok := StatusFields[KindKey(live.GetAPIVersion(), live.GetKind())]
	if !ok {
		return nil
	}
	out := map[string]any{}
	for _, f := range fields {
		if v, found, _ := unstructured.NestedInt64(live.Object, "status", f); found {
			out[f] = v
		}
	}
	return out
}

func nested(o *unstructured.Unstructured, fields ...string) int64 {
	v, _, _ := unstructured.NestedInt64(o.Object, fields...)
	return v
}

// deadlineExceeded reports whether a Deployment's rollout passed its
// progressDeadlineSeconds: the Progressing condition is False.
func deadlineExceeded(live *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == "Progressing" && m["status"] == "False" {
			return true
		}
	}
	return false
}

// Health applies the kind's health rule to an object in a member. A
// workload whose rollout is under way is Progressing, not Unhealthy, so
// that application failover does not move it for being updated.
func Health(live *unstructured.Unstructured) string {
	gen := live.GetGeneration()
	observed, hasObserved, _ := unstructured.NestedInt64(live.Object, "status", "observedGeneration")
	current := !hasObserved || observed >= gen
	want, found, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	ok := func(b bool) string {
		if b {
			return workv1alpha1.HealthHealthy
		}
		return workv1alpha1.HealthUnhealthy
	}
	switch KindKey(live.GetAPIVersion(), live.GetKind()) {
	case "apps/v1/Deployment":
		if !hasObserved {
			return workv1alpha1.HealthUnknown
		}
		updated := nested(live, "status", "updatedReplicas") >= want
		switch {
		case current && updated && nested(live, "status", "availableReplicas") >= want:
			return workv1alpha1.HealthHealthy
		case deadlineExceeded(live):
			return workv1alpha1.HealthUnhealthy
		case !current || !updated:
			return workv1alpha1.HealthProgressing
		}
		return workv1alpha1.HealthUnhealthy
	case "apps/v1/StatefulSet":
		if !hasObserved {
			return workv1alpha1.HealthUnknown
		}
		updated := nested(live, "status", "updatedReplicas") >= want
		switch {
		case current && updated && nested(live, "status", "readyReplicas") >= want:
			return workv1alpha1.HealthHealthy
		case !current || !updated:
			return workv1alpha1.HealthProgressing
		}
		return workv1alpha1.HealthUnhealthy
	case "apps/v1/ReplicaSet":
		return ok(current && nested(live, "status", "readyReplicas") >= want)
	case "apps/v1/DaemonSet":
		if !hasObserved {
			return workv1alpha1.HealthUnknown
		}
		d := nested(live, "status", "desiredNumberScheduled")
		updated := nested(live, "status", "updatedNumberScheduled") >= d
		switch {
		case current && updated && nested(live, "status", "numberReady") >= d:
			return workv1alpha1.HealthHealthy
		case !current || !updated:
			return workv1alpha1.HealthProgressing
		}
		return workv1alpha1.HealthUnhealthy
	case "batch/v1/Job":
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Failed" && m["status"] == "True" {
				return workv1alpha1.HealthUnhealthy
			}
		}
		return workv1alpha1.HealthHealthy
	case "v1/Pod":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		return ok(phase == "Running" || phase == "Succeeded")
	case "v1/PersistentVolumeClaim":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		return ok(phase == "Bound")
	case "v1/Service":
		if t, _, _ := unstructured.NestedString(live.Object, "spec", "type"); t == "LoadBalancer" {
			ing, _, _ := unstructured.NestedSlice(live.Object, "status", "loadBalancer", "ingress")
			return ok(len(ing) > 0)
		}
	}
	return workv1alpha1.HealthHealthy
}
