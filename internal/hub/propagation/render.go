package propagation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// FieldManager is the server-side apply field manager of every write to a
// member.
const FieldManager = "flotilla"

// droppedAnnotations never leave the hub.
var droppedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	workv1alpha1.AnnotationPolicy,
}

// hubAssigned are fields the hub's API server filled in for its own copy,
// which each member must assign for itself.
var hubAssigned = map[string][][]string{
	"Service":               {{"spec", "clusterIP"}, {"spec", "clusterIPs"}},
	"Job":                   {{"spec", "selector"}, {"spec", "template", "metadata", "labels", "controller-uid"}, {"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"}, {"spec", "template", "metadata", "labels", "job-name"}, {"spec", "template", "metadata", "labels", "batch.kubernetes.io/job-name"}},
	"PersistentVolumeClaim": {{"spec", "volumeName"}},
	"ServiceAccount":        {{"secrets"}},
	"Pod":                   {{"spec", "nodeName"}},
}

// render returns the manifest of tmpl for one member: the template without
// its status and hub-only metadata, with the cluster's replica count, and
// labelled so that the member's objects lead back to their binding.
// bindingUID is empty for a dependency, which several bindings may share.
func render(tmpl *unstructured.Unstructured, bindingRef, bindingUID string, replicas *int32) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range tmpl.Object {
		if k == "metadata" || k == "status" {
			continue
		}
		out.Object[k] = runtimeDeepCopy(v)
	}
	out.SetAPIVersion(tmpl.GetAPIVersion())
	out.SetKind(tmpl.GetKind())
	out.SetName(tmpl.GetName())
	out.SetNamespace(tmpl.GetNamespace())
	for _, path := range hubAssigned[tmpl.GetKind()] {
		unstructured.RemoveNestedField(out.Object, path...)
	}
	if replicas != nil {
		_ = unstructured.SetNestedField(out.Object, int64(*replicas), "spec", "replicas")
	}
	labels := map[string]string{}
	for k, v := range tmpl.GetLabels() {
		labels[k] = v
	}
	labels[clusterv1alpha1.LabelManagedBy] = clusterv1alpha1.ManagedByValue
	if bindingUID != "" {
		labels[workv1alpha1.LabelBindingUID] = bindingUID
	} else {
		labels[workv1alpha1.LabelDependency] = "true"
	}
	out.SetLabels(labels)
	annotations := map[string]string{}
	for k, v := range tmpl.GetAnnotations() {
		annotations[k] = v
	}
	for _, k := range droppedAnnotations {
		delete(annotations, k)
	}
	if bindingUID != "" {
		annotations[workv1alpha1.AnnotationBinding] = bindingRef
	}
	out.SetAnnotations(annotations)
	annotations[workv1alpha1.AnnotationManifestHash] = hashOf(out.Object)
	out.SetAnnotations(annotations)
	return out
}

func runtimeDeepCopy(v any) any {
	return runtime.DeepCopyJSONValue(v)
}

// hashOf fingerprints a manifest. encoding/json sorts map keys, so equal
// manifests hash equally.
func hashOf(o map[string]any) string {
	b, _ := json.Marshal(o)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// upToDate reports whether live already holds manifest: the manifest's hash
// is the one last applied, and no field the manifest sets was changed in
// the member since.
func upToDate(manifest, live *unstructured.Unstructured) bool {
	if live == nil {
		return false
	}
	if live.GetAnnotations()[workv1alpha1.AnnotationManifestHash] != manifest.GetAnnotations()[workv1alpha1.AnnotationManifestHash] {
		return false
	}
	for k, v := range manifest.Object {
		if k == "metadata" {
			continue
		}
		if !subset(v, live.Object[k]) {
			return false
		}
	}
	return subset(any(toAny(manifest.GetLabels())), any(toAny(live.GetLabels())))
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// subset reports whether every value set in want is the same in have.
// Lists must match element by element: a member adds to maps, not lists.
func subset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, v := range w {
			if !subset(v, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return len(w) == 0 && have == nil
		}
		for i := range w {
			if !subset(w[i], h[i]) {
				return false
			}
		}
		return true
	case nil:
		return true
	}
	if wf, ok := number(want); ok {
		hf, ok := number(have)
		return ok && wf == hf
	}
	return reflect.DeepEqual(want, have)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// dependencyName is how a dependency appears in a binding's status.
func dependencyName(r workv1alpha1.ObjectReference) string {
	return fmt.Sprintf("%s/%s", r.Kind, r.Name)
}
