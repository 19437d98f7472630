package overrides

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/resourceselector"
)

// Kinds of override policy, as they appear in Policy.Kind and in an
// AppliedOverride.
const (
	KindOverridePolicy        = "OverridePolicy"
	KindClusterOverridePolicy = "ClusterOverridePolicy"
)

// Specificity is how precisely a policy's resource selector matched a
// template. Less specific policies apply first, so the more specific one
// wins.
type Specificity int

// Specificities, ascending.
const (
	// SpecificityKind: the selector names only apiVersion and kind (and
	// perhaps a namespace).
	SpecificityKind Specificity = resourceselector.Kind
	// SpecificityLabelSelector: the selector chooses by labels.
	SpecificityLabelSelector Specificity = resourceselector.LabelSelector
	// SpecificityName: the selector names the template.
	SpecificityName Specificity = resourceselector.Name
)

// Policy is one override policy, of either kind, that matches a template.
type Policy struct {
	// Kind is KindOverridePolicy or KindClusterOverridePolicy.
	Kind string
	// Namespace of an OverridePolicy; empty for a ClusterOverridePolicy.
	Namespace string
	// Name of the policy.
	Name string
	// Specificity is that of the policy's most specific selector that
	// matches the template.
	Specificity Specificity
	// Spec is the policy's spec. Apply does not modify it.
	Spec *policyv1alpha1.OverrideSpec
}

// String names the policy as an AppliedOverride does:
// ClusterOverridePolicy/name or OverridePolicy/namespace/name.
func (p Policy) String() string {
	if p.Kind == KindOverridePolicy {
		return p.Kind + "/" + p.Namespace + "/" + p.Name
	}
	return p.Kind + "/" + p.Name
}

// Matching returns the policies whose resource selectors match template, in
// the order Apply applies them (see the package documentation). An
// OverridePolicy matches only templates of its own namespace. Policies
// being deleted are left out. The returned policies point into ops and
// cops.
func Matching(template *unstructured.Unstructured, ops []policyv1alpha1.OverridePolicy, cops []policyv1alpha1.ClusterOverridePolicy) []Policy {
	var out []Policy
	for i := range cops {
		p := &cops[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if s := specMatch(&p.Spec, template, ""); s > 0 {
			out = append(out, Policy{Kind: KindClusterOverridePolicy, Name: p.Name, Specificity: s, Spec: &p.Spec})
		}
	}
	for i := range ops {
		p := &ops[i]
		if !p.DeletionTimestamp.IsZero() || p.Namespace == "" {
			continue
		}
		if s := specMatch(&p.Spec, template, p.Namespace); s > 0 {
			out = append(out, Policy{Kind: KindOverridePolicy, Namespace: p.Namespace, Name: p.Name, Specificity: s, Spec: &p.Spec})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return appliesBefore(out[i], out[j]) })
	return out
}

// appliesBefore reports whether a applies before b.
func appliesBefore(a, b Policy) bool {
	if (a.Kind == KindClusterOverridePolicy) != (b.Kind == KindClusterOverridePolicy) {
		return a.Kind == KindClusterOverridePolicy
	}
	if a.Specificity != b.Specificity {
		return a.Specificity < b.Specificity
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Namespace < b.Namespace
}

// specMatch returns the best specificity of spec's selectors that match
// obj, or 0 when none does.
func specMatch(spec *policyv1alpha1.OverrideSpec, obj *unstructured.Unstructured, policyNamespace string) Specificity {
	return Specificity(resourceselector.Best(spec.ResourceSelectors, obj, policyNamespace))
}
