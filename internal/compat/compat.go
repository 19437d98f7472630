package compat

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// KarmadaPolicyAPIVersion is the apiVersion of Karmada's policies.
const KarmadaPolicyAPIVersion = "policy.karmada.io/v1alpha1"

// AnnotationTranslatedFrom records the apiVersion a document was translated
// from.
const AnnotationTranslatedFrom = "flotilla.io/translated-from"

// karmadaKinds are the Karmada kinds with a native twin of the same shape.
var karmadaKinds = map[string]bool{
	"PropagationPolicy": true, "ClusterPropagationPolicy": true,
	"OverridePolicy": true, "ClusterOverridePolicy": true,
}

// Translate returns the native form of u and whether it translated
// anything. Documents it does not know are returned unchanged. Fields that
// Flotilla does not support stay in the document, so that the API server's
// strict field validation names them instead of dropping them silently.
func Translate(u *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
	if u.GetAPIVersion() != KarmadaPolicyAPIVersion || !karmadaKinds[u.GetKind()] {
		return u, false
	}
	out := u.DeepCopy()
	out.SetAPIVersion(policyv1alpha1.GroupVersion.String())
	ann := out.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationTranslatedFrom] = KarmadaPolicyAPIVersion
	out.SetAnnotations(ann)
	return out, true
}
