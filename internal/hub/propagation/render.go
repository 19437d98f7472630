package propagation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/workload"
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
	// The hub's API server filled these in for its own copy; each
	// member assigns its own.
	workload.DropServerAssigned(out)
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

// upToDate reports whether live already holds manifest; the rule is the
// agents' too.
var upToDate = workload.UpToDate

// dependencyName is how a dependency appears in a binding's status.
func dependencyName(r workv1alpha1.ObjectReference) string {
	return fmt.Sprintf("%s/%s", r.Kind, r.Name)
}
