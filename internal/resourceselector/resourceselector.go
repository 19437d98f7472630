// Package resourceselector matches the resourceSelectors of Flotilla's
// policies (propagation and override) against templates on the hub, and
// says how specifically they match, for ordering policies.
package resourceselector

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// Specificities, ascending: naming one template beats selecting by labels,
// which beats selecting the whole kind. Zero means no match.
const (
	Kind          = 1
	LabelSelector = 2
	Name          = 3
)

// Match returns how specifically sel selects obj, or 0 when it does not.
// A non-empty policyNamespace confines a namespaced policy to its
// namespace.
func Match(sel policyv1alpha1.ResourceSelector, obj *unstructured.Unstructured, policyNamespace string) int {
	if sel.APIVersion != obj.GetAPIVersion() || sel.Kind != obj.GetKind() {
		return 0
	}
	ns := obj.GetNamespace()
	if policyNamespace != "" && ns != policyNamespace {
		return 0
	}
	if sel.Namespace != "" && sel.Namespace != ns {
		return 0
	}
	if sel.Name != "" {
		if sel.Name != obj.GetName() {
			return 0
		}
		return Name
	}
	if sel.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(sel.LabelSelector)
		if err != nil || !s.Matches(labels.Set(obj.GetLabels())) {
			return 0
		}
		return LabelSelector
	}
	return Kind
}

// Best returns the best specificity of any of sels, or 0 when none matches.
func Best(sels []policyv1alpha1.ResourceSelector, obj *unstructured.Unstructured, policyNamespace string) int {
	best := 0
	for _, sel := range sels {
		best = max(best, Match(sel, obj, policyNamespace))
	}
	return best
}
