package workload

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// UpToDate reports whether live already holds manifest: the manifest's
// hash is the one last applied, and no field the manifest sets was changed
// in the cluster since. Unchanged objects are never applied again.
func UpToDate(manifest, live *unstructured.Unstructured) bool {
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
	return subset(toAny(manifest.GetLabels()), toAny(live.GetLabels())) &&
		subset(toAny(manifest.GetAnnotations()), toAny(live.GetAnnotations()))
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
	if wf, ok := Number(want); ok {
		hf, ok := Number(have)
		return ok && wf == hf
	}
	return reflect.DeepEqual(want, have)
}

// Number reads a JSON number of any Go type.
func Number(v any) (float64, bool) {
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
