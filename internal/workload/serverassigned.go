package workload

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// serverAssigned are fields a cluster's API server or controllers fill in
// for their own copy of an object, which a copy for another cluster must
// not carry, by apiVersion/kind. keep, when set, says when a field is the
// user's own after all.
var serverAssigned = map[string][]struct {
	path []string
	keep func(obj map[string]any) bool
}{
	"v1/Service": {
		{path: []string{"spec", "clusterIP"}, keep: headless},
		{path: []string{"spec", "clusterIPs"}, keep: headless},
		// Each member allocates its own node ports and IP families.
		{path: []string{"spec", "healthCheckNodePort"}},
		{path: []string{"spec", "ipFamilies"}},
		{path: []string{"spec", "ipFamilyPolicy"}},
	},
	"batch/v1/Job": {
		{path: []string{"spec", "selector"}, keep: manualSelector},
		{path: []string{"spec", "template", "metadata", "labels", "controller-uid"}, keep: manualSelector},
		{path: []string{"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"}, keep: manualSelector},
		{path: []string{"spec", "template", "metadata", "labels", "job-name"}, keep: manualSelector},
		{path: []string{"spec", "template", "metadata", "labels", "batch.kubernetes.io/job-name"}, keep: manualSelector},
	},
	"v1/PersistentVolumeClaim": {{path: []string{"spec", "volumeName"}}},
	"v1/ServiceAccount":        {{path: []string{"secrets"}}},
	"v1/Pod":                   {{path: []string{"spec", "nodeName"}}},
}

// headless Services keep clusterIP None in every member.
func headless(obj map[string]any) bool {
	ip, _, _ := unstructured.NestedString(obj, "spec", "clusterIP")
	return ip == "None"
}

// manualSelector Jobs carry a selector the user wrote.
func manualSelector(obj map[string]any) bool {
	m, _, _ := unstructured.NestedBool(obj, "spec", "manualSelector")
	return m
}

// DropServerAssigned removes from obj what its own cluster assigned it
// (serverAssigned, and Service node ports), so that it can go to another
// cluster: from the hub to a member, or, promoted, from a member to the hub.
func DropServerAssigned(obj *unstructured.Unstructured) {
	for _, f := range serverAssigned[KindKey(obj.GetAPIVersion(), obj.GetKind())] {
		if f.keep == nil || !f.keep(obj.Object) {
			unstructured.RemoveNestedField(obj.Object, f.path...)
		}
	}
	if KindKey(obj.GetAPIVersion(), obj.GetKind()) == "v1/Service" {
		ports, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ports")
		for _, p := range ports {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "nodePort")
			}
		}
		if ports != nil {
			_ = unstructured.SetNestedSlice(obj.Object, ports, "spec", "ports")
		}
	}
}
