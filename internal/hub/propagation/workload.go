package propagation

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// divisible kinds have a spec.replicas that the scheduler may divide.
func divisible(apiVersion, kind string) bool {
	if apiVersion != "apps/v1" {
		return false
	}
	switch kind {
	case "Deployment", "StatefulSet", "ReplicaSet":
		return true
	}
	return false
}

// replicasOf returns a divisible template's replica count (1 when unset,
// as the API server defaults it).
func replicasOf(obj *unstructured.Unstructured) int32 {
	if !divisible(obj.GetAPIVersion(), obj.GetKind()) {
		return 0
	}
	n, found, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if err != nil || !found {
		return 1
	}
	return int32(n)
}

// podSpecOf returns the pod spec of a workload template, or nil for kinds
// that have none.
func podSpecOf(obj *unstructured.Unstructured) *corev1.PodSpec {
	var path []string
	switch {
	case obj.GetAPIVersion() == "v1" && obj.GetKind() == "Pod":
		path = []string{"spec"}
	case obj.GetAPIVersion() == "apps/v1" || (obj.GetAPIVersion() == "batch/v1" && obj.GetKind() == "Job"):
		path = []string{"spec", "template", "spec"}
	case obj.GetAPIVersion() == "batch/v1" && obj.GetKind() == "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil
	}
	m, found, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil || !found {
		return nil
	}
	var ps corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ps); err != nil {
		return nil
	}
	return &ps
}

// requirementsOf sums what one replica requests: its containers' requests,
// or its largest init container's where that is more.
func requirementsOf(ps *corev1.PodSpec) corev1.ResourceList {
	if ps == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for _, c := range ps.Containers {
		for n, q := range c.Resources.Requests {
			cur := out[n]
			cur.Add(q)
			out[n] = cur
		}
	}
	// Sidecars (init containers that keep running) add to the steady
	// total; a plain init container needs its requests, plus the sidecars
	// started before it, only while it runs.
	sidecars := corev1.ResourceList{}
	peak := corev1.ResourceList{}
	for _, c := range ps.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			for n, q := range c.Resources.Requests {
				cur := sidecars[n]
				cur.Add(q)
				sidecars[n] = cur
			}
			continue
		}
		for n, q := range c.Resources.Requests {
			need := q.DeepCopy()
			if sc, ok := sidecars[n]; ok {
				need.Add(sc)
			}
			if cur, ok := peak[n]; !ok || need.Cmp(cur) > 0 {
				peak[n] = need
			}
		}
	}
	for n, q := range sidecars {
		cur := out[n]
		cur.Add(q)
		out[n] = cur
	}
	for n, q := range peak {
		if cur, ok := out[n]; !ok || q.Cmp(cur) > 0 {
			out[n] = q
		}
	}
	if len(out) == 0 {
		return nil
	}
	for n, q := range out {
		out[n] = resource.MustParse(q.String())
	}
	return out
}

// dependenciesOf lists the ConfigMaps, Secrets, ServiceAccounts and
// PersistentVolumeClaims a pod spec references, sorted and without
// duplicates.
func dependenciesOf(ps *corev1.PodSpec, namespace string) []workv1alpha1.ObjectReference {
	if ps == nil {
		return nil
	}
	set := map[workv1alpha1.ObjectReference]bool{}
	add := func(kind, name string) {
		if name != "" {
			set[workv1alpha1.ObjectReference{APIVersion: "v1", Kind: kind, Namespace: namespace, Name: name}] = true
		}
	}
	if ps.ServiceAccountName != "" && ps.ServiceAccountName != "default" {
		add("ServiceAccount", ps.ServiceAccountName)
	}
	for _, s := range ps.ImagePullSecrets {
		add("Secret", s.Name)
	}
	for _, v := range ps.Volumes {
		switch {
		case v.ConfigMap != nil:
			add("ConfigMap", v.ConfigMap.Name)
		case v.Secret != nil:
			add("Secret", v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil:
			add("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add("ConfigMap", s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add("Secret", s.Secret.Name)
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...)
	for _, c := range containers {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				add("ConfigMap", e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add("Secret", e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add("ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name)
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add("Secret", e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	out := make([]workv1alpha1.ObjectReference, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}
