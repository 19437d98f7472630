package propagation

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/resourceselector"
)

// Kinds of policy, as they appear in a PolicyReference and in the claim
// annotation.
const (
	KindPropagationPolicy        = "PropagationPolicy"
	KindClusterPropagationPolicy = "ClusterPropagationPolicy"
)

// candidate is a policy that matches a template.
type candidate struct {
	Ref         workv1alpha1.PolicyReference
	Spec        *policyv1alpha1.PropagationSpec
	Specificity int
}

func (c candidate) priority() int32 {
	if c.Spec.Priority == nil {
		return 0
	}
	return *c.Spec.Priority
}

// Claim is the value of the claim annotation for a policy reference.
func Claim(r workv1alpha1.PolicyReference) string {
	if r.Kind == KindPropagationPolicy {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

// Selector specificities: naming one template beats selecting by labels,
// which beats selecting the whole kind.
const (
	specificityKind  = resourceselector.Kind
	specificityLabel = resourceselector.LabelSelector
	specificityName  = resourceselector.Name
)

// selectorMatch returns how specifically sel selects obj, or 0 when it
// does not. policyNamespace confines a PropagationPolicy to its namespace.
var selectorMatch = resourceselector.Match

// specMatch returns the best specificity of any of spec's selectors.
func specMatch(spec *policyv1alpha1.PropagationSpec, obj *unstructured.Unstructured, policyNamespace string) int {
	return resourceselector.Best(spec.ResourceSelectors, obj, policyNamespace)
}

// candidates returns the policies that match obj, best first. The order is
// total and deterministic: a PropagationPolicy before a
// ClusterPropagationPolicy, then higher priority, then the more specific
// selector, then the name.
func candidates(obj *unstructured.Unstructured, pps []policyv1alpha1.PropagationPolicy, cpps []policyv1alpha1.ClusterPropagationPolicy) []candidate {
	var out []candidate
	for i := range pps {
		p := &pps[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if s := specMatch(&p.Spec, obj, p.Namespace); s > 0 {
			out = append(out, candidate{
				Ref:  workv1alpha1.PolicyReference{Kind: KindPropagationPolicy, Namespace: p.Namespace, Name: p.Name},
				Spec: &p.Spec, Specificity: s,
			})
		}
	}
	for i := range cpps {
		p := &cpps[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if s := specMatch(&p.Spec, obj, ""); s > 0 {
			out = append(out, candidate{
				Ref:  workv1alpha1.PolicyReference{Kind: KindClusterPropagationPolicy, Name: p.Name},
				Spec: &p.Spec, Specificity: s,
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

// better reports whether a ranks above b.
func better(a, b candidate) bool {
	if (a.Ref.Kind == KindPropagationPolicy) != (b.Ref.Kind == KindPropagationPolicy) {
		return a.Ref.Kind == KindPropagationPolicy
	}
	if a.priority() != b.priority() {
		return a.priority() > b.priority()
	}
	if a.Specificity != b.Specificity {
		return a.Specificity > b.Specificity
	}
	return a.Ref.Name < b.Ref.Name
}

// choose picks the policy that claims obj, given the claim it has now.
// A template stays with the policy that claimed it while that policy still
// matches, unless a policy with preemption Always outranks it: a higher
// priority, or a PropagationPolicy over a ClusterPropagationPolicy. Of
// those, the best-ranked wins.
func choose(cands []candidate, current string) (candidate, bool) {
	if len(cands) == 0 {
		return candidate{}, false
	}
	idx := -1
	for i, c := range cands {
		if Claim(c.Ref) == current {
			idx = i
			break
		}
	}
	if idx < 0 {
		return cands[0], true
	}
	cur := cands[idx]
	for _, c := range cands[:idx] {
		if c.Spec.Preemption == policyv1alpha1.PreemptAlways && preempts(c, cur) {
			return c, true
		}
	}
	return cur, true
}

// preempts reports whether a may take a template from b.
func preempts(a, b candidate) bool {
	aPP, bPP := a.Ref.Kind == KindPropagationPolicy, b.Ref.Kind == KindPropagationPolicy
	if aPP != bPP {
		return aPP
	}
	return a.priority() > b.priority()
}

// ignoredNamespaces never have their templates propagated: they belong to
// the hub itself.
var ignoredNamespaces = map[string]bool{
	"kube-system": true, "kube-public": true, "kube-node-lease": true, "flotilla-system": true,
}

// propagatable reports whether obj may be propagated at all.
func propagatable(obj *unstructured.Unstructured) bool {
	if ignoredNamespaces[obj.GetNamespace()] {
		return false
	}
	// Objects that another object owns on the hub (a ServiceAccount token,
	// say) are the owner's business.
	for _, o := range obj.GetOwnerReferences() {
		if o.Controller != nil && *o.Controller {
			return false
		}
	}
	if obj.GetAPIVersion() == "v1" && obj.GetKind() == "Secret" {
		// The hub's own credentials never leave it.
		t, _, _ := unstructured.NestedString(obj.Object, "type")
		if t == "kubernetes.io/service-account-token" || t == "bootstrap.kubernetes.io/token" {
			return false
		}
	}
	return !strings.HasPrefix(obj.GetName(), "system:")
}

func describeRef(r workv1alpha1.PolicyReference) string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	return fmt.Sprintf("%s %s", r.Kind, r.Name)
}
