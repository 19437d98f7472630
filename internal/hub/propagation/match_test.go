package propagation

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// makeTemplate returns a bare template; labels may be nil.
func makeTemplate(apiVersion, kind, namespace, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	if labels != nil {
		u.SetLabels(labels)
	}
	return u
}

func deploymentSelector() policyv1alpha1.ResourceSelector {
	return policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}
}

func TestSelectorMatch(t *testing.T) {
	web := makeTemplate("apps/v1", "Deployment", "team-a", "web", map[string]string{"app": "web", "tier": "front"})
	clusterRole := makeTemplate("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader", nil)

	withName := func(s policyv1alpha1.ResourceSelector, name string) policyv1alpha1.ResourceSelector {
		s.Name = name
		return s
	}
	withNS := func(s policyv1alpha1.ResourceSelector, ns string) policyv1alpha1.ResourceSelector {
		s.Namespace = ns
		return s
	}
	withLabels := func(s policyv1alpha1.ResourceSelector, ls *metav1.LabelSelector) policyv1alpha1.ResourceSelector {
		s.LabelSelector = ls
		return s
	}

	cases := map[string]struct {
		sel      policyv1alpha1.ResourceSelector
		obj      *unstructured.Unstructured
		policyNS string
		want     int
	}{
		"name matches": {
			sel: withName(deploymentSelector(), "web"), obj: web, policyNS: "team-a", want: specificityName,
		},
		"name differs": {
			sel: withName(deploymentSelector(), "api"), obj: web, policyNS: "team-a", want: 0,
		},
		"label selector matches": {
			sel: withLabels(deploymentSelector(), &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}),
			obj: web, policyNS: "team-a", want: specificityLabel,
		},
		"label selector with expressions matches": {
			sel: withLabels(deploymentSelector(), &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}},
			}}),
			obj: web, policyNS: "team-a", want: specificityLabel,
		},
		"label selector does not match": {
			sel: withLabels(deploymentSelector(), &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}),
			obj: web, policyNS: "team-a", want: 0,
		},
		"invalid label selector matches nothing": {
			sel: withLabels(deploymentSelector(), &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: "Bogus", Values: []string{"web"}},
			}}),
			obj: web, policyNS: "team-a", want: 0,
		},
		"kind only": {
			sel: deploymentSelector(), obj: web, policyNS: "team-a", want: specificityKind,
		},
		"apiVersion differs": {
			sel: policyv1alpha1.ResourceSelector{APIVersion: "apps/v1beta1", Kind: "Deployment"}, obj: web, want: 0,
		},
		"kind differs": {
			sel: policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "StatefulSet"}, obj: web, want: 0,
		},
		"PropagationPolicy does not reach another namespace": {
			sel: deploymentSelector(), obj: web, policyNS: "team-b", want: 0,
		},
		"PropagationPolicy cannot widen its namespace with the selector's": {
			sel: withNS(deploymentSelector(), "team-a"), obj: web, policyNS: "team-b", want: 0,
		},
		"PropagationPolicy selector naming another namespace matches nothing": {
			sel: withNS(deploymentSelector(), "team-b"), obj: web, policyNS: "team-a", want: 0,
		},
		"PropagationPolicy does not select a cluster-scoped template": {
			sel: policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			obj: clusterRole, policyNS: "team-a", want: 0,
		},
		"ClusterPropagationPolicy without namespace selects any namespace": {
			sel: deploymentSelector(), obj: web, policyNS: "", want: specificityKind,
		},
		"ClusterPropagationPolicy selector namespace matches": {
			sel: withNS(deploymentSelector(), "team-a"), obj: web, want: specificityKind,
		},
		"ClusterPropagationPolicy selector namespace differs": {
			sel: withNS(deploymentSelector(), "team-b"), obj: web, want: 0,
		},
		"ClusterPropagationPolicy selects a cluster-scoped template by name": {
			sel: policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "reader"},
			obj: clusterRole, want: specificityName,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := selectorMatch(tc.sel, tc.obj, tc.policyNS); got != tc.want {
				t.Errorf("selectorMatch() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestSpecMatch(t *testing.T) {
	web := makeTemplate("apps/v1", "Deployment", "default", "web", map[string]string{"app": "web"})
	byName := func(n string) policyv1alpha1.ResourceSelector {
		s := deploymentSelector()
		s.Name = n
		return s
	}
	byLabel := func(v string) policyv1alpha1.ResourceSelector {
		s := deploymentSelector()
		s.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": v}}
		return s
	}
	cases := map[string]struct {
		sels []policyv1alpha1.ResourceSelector
		want int
	}{
		"no selectors":                       {sels: nil, want: 0},
		"no selector matches":                {sels: []policyv1alpha1.ResourceSelector{byName("api"), byLabel("api")}, want: 0},
		"best of kind and name is name":      {sels: []policyv1alpha1.ResourceSelector{deploymentSelector(), byName("web")}, want: specificityName},
		"best of name first is still name":   {sels: []policyv1alpha1.ResourceSelector{byName("web"), deploymentSelector()}, want: specificityName},
		"unmatched name does not hide label": {sels: []policyv1alpha1.ResourceSelector{byName("api"), byLabel("web"), deploymentSelector()}, want: specificityLabel},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := &policyv1alpha1.PropagationSpec{ResourceSelectors: tc.sels}
			if got := specMatch(spec, web, "default"); got != tc.want {
				t.Errorf("specMatch() = %d, want %d", got, tc.want)
			}
		})
	}
}

// policySpec is a PropagationSpec with one selector for apps/v1
// Deployments, narrowed by name or labels when given.
func policySpec(priority *int32, preemption policyv1alpha1.PreemptionBehavior, name string, labels map[string]string) policyv1alpha1.PropagationSpec {
	sel := deploymentSelector()
	sel.Name = name
	if labels != nil {
		sel.LabelSelector = &metav1.LabelSelector{MatchLabels: labels}
	}
	return policyv1alpha1.PropagationSpec{
		ResourceSelectors: []policyv1alpha1.ResourceSelector{sel},
		Priority:          priority,
		Preemption:        preemption,
	}
}

func makePP(ns, name string, spec policyv1alpha1.PropagationSpec) policyv1alpha1.PropagationPolicy {
	return policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func makeCPP(name string, spec policyv1alpha1.PropagationSpec) policyv1alpha1.ClusterPropagationPolicy {
	return policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestCandidates(t *testing.T) {
	web := makeTemplate("apps/v1", "Deployment", "default", "web", map[string]string{"app": "web"})
	deleted := metav1.Now()

	cases := map[string]struct {
		pps  []policyv1alpha1.PropagationPolicy
		cpps []policyv1alpha1.ClusterPropagationPolicy
		want []string // Claim:specificity, best first
	}{
		"nothing matches": {
			pps:  []policyv1alpha1.PropagationPolicy{makePP("other", "pp", policySpec(nil, "", "", nil))},
			cpps: []policyv1alpha1.ClusterPropagationPolicy{makeCPP("cpp", policySpec(nil, "", "api", nil))},
			want: nil,
		},
		"PropagationPolicy before ClusterPropagationPolicy of higher priority and specificity": {
			pps:  []policyv1alpha1.PropagationPolicy{makePP("default", "z-pp", policySpec(nil, "", "", nil))},
			cpps: []policyv1alpha1.ClusterPropagationPolicy{makeCPP("a-cpp", policySpec(ptr.To[int32](100), "", "web", nil))},
			want: []string{"PropagationPolicy/default/z-pp:1", "ClusterPropagationPolicy/a-cpp:3"},
		},
		"higher priority first": {
			cpps: []policyv1alpha1.ClusterPropagationPolicy{
				makeCPP("a", policySpec(ptr.To[int32](1), "", "web", nil)),
				makeCPP("b", policySpec(ptr.To[int32](5), "", "", nil)),
			},
			want: []string{"ClusterPropagationPolicy/b:1", "ClusterPropagationPolicy/a:3"},
		},
		"unset priority counts as zero": {
			pps: []policyv1alpha1.PropagationPolicy{
				makePP("default", "neg", policySpec(ptr.To[int32](-1), "", "", nil)),
				makePP("default", "unset", policySpec(nil, "", "", nil)),
				makePP("default", "pos", policySpec(ptr.To[int32](1), "", "", nil)),
			},
			want: []string{"PropagationPolicy/default/pos:1", "PropagationPolicy/default/unset:1", "PropagationPolicy/default/neg:1"},
		},
		"same priority: name over labels over kind": {
			pps: []policyv1alpha1.PropagationPolicy{
				makePP("default", "a-kind", policySpec(nil, "", "", nil)),
				makePP("default", "b-label", policySpec(nil, "", "", map[string]string{"app": "web"})),
				makePP("default", "c-name", policySpec(nil, "", "web", nil)),
			},
			want: []string{"PropagationPolicy/default/c-name:3", "PropagationPolicy/default/b-label:2", "PropagationPolicy/default/a-kind:1"},
		},
		"same priority and specificity: by name": {
			cpps: []policyv1alpha1.ClusterPropagationPolicy{
				makeCPP("b", policySpec(nil, "", "", nil)),
				makeCPP("a", policySpec(nil, "", "", nil)),
				makeCPP("c", policySpec(nil, "", "", nil)),
			},
			want: []string{"ClusterPropagationPolicy/a:1", "ClusterPropagationPolicy/b:1", "ClusterPropagationPolicy/c:1"},
		},
		"deleted policies are skipped": {
			pps: []policyv1alpha1.PropagationPolicy{
				func() policyv1alpha1.PropagationPolicy {
					p := makePP("default", "gone", policySpec(ptr.To[int32](9), "", "web", nil))
					p.DeletionTimestamp = &deleted
					return p
				}(),
				makePP("default", "kept", policySpec(nil, "", "", nil)),
			},
			cpps: []policyv1alpha1.ClusterPropagationPolicy{
				func() policyv1alpha1.ClusterPropagationPolicy {
					p := makeCPP("gone", policySpec(ptr.To[int32](9), "", "web", nil))
					p.DeletionTimestamp = &deleted
					return p
				}(),
			},
			want: []string{"PropagationPolicy/default/kept:1"},
		},
		"policies of another namespace or kind are skipped": {
			pps: []policyv1alpha1.PropagationPolicy{
				makePP("other", "elsewhere", policySpec(ptr.To[int32](9), "", "", nil)),
				makePP("default", "here", policySpec(nil, "", "", nil)),
			},
			cpps: []policyv1alpha1.ClusterPropagationPolicy{
				makeCPP("sts", policyv1alpha1.PropagationSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "StatefulSet"}}}),
			},
			want: []string{"PropagationPolicy/default/here:1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			describe := func(cs []candidate) []string {
				var out []string
				for _, c := range cs {
					out = append(out, fmt.Sprintf("%s:%d", Claim(c.Ref), c.Specificity))
				}
				return out
			}
			if diff := cmp.Diff(tc.want, describe(candidates(web, tc.pps, tc.cpps))); diff != "" {
				t.Errorf("candidates() (-want +got):\n%s", diff)
			}
			// The order must not depend on the order of the lists.
			pps, cpps := slices.Clone(tc.pps), slices.Clone(tc.cpps)
			slices.Reverse(pps)
			slices.Reverse(cpps)
			if diff := cmp.Diff(tc.want, describe(candidates(web, pps, cpps))); diff != "" {
				t.Errorf("candidates() of reversed input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCandidatesSpecPointsAtPolicy(t *testing.T) {
	web := makeTemplate("apps/v1", "Deployment", "default", "web", nil)
	pps := []policyv1alpha1.PropagationPolicy{
		makePP("default", "a", policySpec(ptr.To[int32](1), "", "", nil)),
		makePP("default", "b", policySpec(ptr.To[int32](2), policyv1alpha1.PreemptAlways, "", nil)),
	}
	got := candidates(web, pps, nil)
	if len(got) != 2 {
		t.Fatalf("candidates() returned %d, want 2", len(got))
	}
	if got[0].Ref.Name != "b" || got[0].Spec != &pps[1].Spec {
		t.Errorf("first candidate = %s with spec %p, want b with spec %p", got[0].Ref.Name, got[0].Spec, &pps[1].Spec)
	}
	if got[1].Ref.Name != "a" || got[1].Spec != &pps[0].Spec {
		t.Errorf("second candidate = %s with spec %p, want a with spec %p", got[1].Ref.Name, got[1].Spec, &pps[0].Spec)
	}
}

func cand(kind, ns, name string, priority int32, preemption policyv1alpha1.PreemptionBehavior, specificity int) candidate {
	return candidate{
		Ref:         workv1alpha1.PolicyReference{Kind: kind, Namespace: ns, Name: name},
		Spec:        &policyv1alpha1.PropagationSpec{Priority: ptr.To(priority), Preemption: preemption},
		Specificity: specificity,
	}
}

func TestChoose(t *testing.T) {
	const (
		always = policyv1alpha1.PreemptAlways
		never  = policyv1alpha1.PreemptNever
	)
	ppHigh := cand(KindPropagationPolicy, "default", "high", 10, never, specificityKind)
	ppHighAlways := cand(KindPropagationPolicy, "default", "high", 10, always, specificityKind)
	ppHighUnset := cand(KindPropagationPolicy, "default", "high", 10, "", specificityKind)
	ppLow := cand(KindPropagationPolicy, "default", "low", 1, never, specificityKind)
	ppZeroAlways := cand(KindPropagationPolicy, "default", "zero", 0, always, specificityKind)
	ppSameNameAlways := cand(KindPropagationPolicy, "default", "x", 1, always, specificityName)
	cppHigh := cand(KindClusterPropagationPolicy, "", "high", 100, never, specificityName)
	cppX := cand(KindClusterPropagationPolicy, "", "x", 0, never, specificityKind)

	cases := map[string]struct {
		cands   []candidate
		current string
		want    string // Claim of the choice; "" for none
	}{
		"no candidates": {
			cands: nil, current: "", want: "",
		},
		"no candidates, with a stale claim": {
			cands: nil, current: Claim(ppLow.Ref), want: "",
		},
		"unclaimed takes the best": {
			cands: []candidate{ppHigh, ppLow}, current: "", want: Claim(ppHigh.Ref),
		},
		"claimed by the best stays": {
			cands: []candidate{ppHigh, ppLow}, current: Claim(ppHigh.Ref), want: Claim(ppHigh.Ref),
		},
		"keeps the current claim while it matches (better has Never)": {
			cands: []candidate{ppHigh, ppLow}, current: Claim(ppLow.Ref), want: Claim(ppLow.Ref),
		},
		"keeps the current claim while it matches (better has no preemption set)": {
			cands: []candidate{ppHighUnset, ppLow}, current: Claim(ppLow.Ref), want: Claim(ppLow.Ref),
		},
		"better policy with Always preempts": {
			cands: []candidate{ppHighAlways, ppLow}, current: Claim(ppLow.Ref), want: Claim(ppHighAlways.Ref),
		},
		"PropagationPolicy with Always preempts a ClusterPropagationPolicy of higher priority": {
			cands: []candidate{ppZeroAlways, cppHigh}, current: Claim(cppHigh.Ref), want: Claim(ppZeroAlways.Ref),
		},
		"current no longer matches: falls back to the best": {
			cands: []candidate{ppHigh, ppLow}, current: "ClusterPropagationPolicy/gone", want: Claim(ppHigh.Ref),
		},
		"PropagationPolicy with Always preempts a ClusterPropagationPolicy of the same name": {
			cands:   []candidate{ppSameNameAlways, cppX},
			current: Claim(cppX.Ref),
			want:    Claim(ppSameNameAlways.Ref),
		},
		"claim tells the kinds apart": {
			// A PropagationPolicy and a ClusterPropagationPolicy share the
			// name x; the claim is the ClusterPropagationPolicy's.
			cands:   []candidate{cand(KindPropagationPolicy, "default", "x", 1, never, specificityName), cppX},
			current: Claim(cppX.Ref),
			want:    Claim(cppX.Ref),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if !sort.SliceIsSorted(tc.cands, func(i, j int) bool { return better(tc.cands[i], tc.cands[j]) }) {
				t.Fatalf("test input is not in candidates() order")
			}
			c, ok := choose(tc.cands, tc.current)
			got := ""
			if ok {
				got = Claim(c.Ref)
			} else if c.Spec != nil {
				t.Errorf("choose() returned no choice but a candidate %+v", c)
			}
			if got != tc.want {
				t.Errorf("choose() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestChoosePreemptionBelowTheBest: docs/propagation.md says a template
// stays with its policy "unless a better-ranked policy has preemption:
// Always". Here the best policy has Never, but the second, which also ranks
// above the current claim, has Always.
func TestChoosePreemptionBelowTheBest(t *testing.T) {
	best := cand(KindPropagationPolicy, "default", "best", 10, policyv1alpha1.PreemptNever, specificityKind)
	preemptor := cand(KindPropagationPolicy, "default", "preemptor", 5, policyv1alpha1.PreemptAlways, specificityKind)
	current := cand(KindPropagationPolicy, "default", "current", 1, policyv1alpha1.PreemptNever, specificityKind)

	c, ok := choose([]candidate{best, preemptor, current}, Claim(current.Ref))
	if !ok || Claim(c.Ref) != Claim(preemptor.Ref) {
		t.Errorf("choose() = %q, %v; want %q", Claim(c.Ref), ok, Claim(preemptor.Ref))
	}
}

func TestPropagatable(t *testing.T) {
	withOwner := func(u *unstructured.Unstructured, controller *bool) *unstructured.Unstructured {
		u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ServiceAccount", Name: "sa", UID: "u1", Controller: controller}})
		return u
	}
	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want bool
	}{
		"namespaced template":            {obj: makeTemplate("apps/v1", "Deployment", "default", "web", nil), want: true},
		"cluster-scoped template":        {obj: makeTemplate("v1", "Namespace", "", "team-a", nil), want: true},
		"kube-system":                    {obj: makeTemplate("v1", "ConfigMap", "kube-system", "c", nil), want: false},
		"kube-public":                    {obj: makeTemplate("v1", "ConfigMap", "kube-public", "c", nil), want: false},
		"kube-node-lease":                {obj: makeTemplate("coordination.k8s.io/v1", "Lease", "kube-node-lease", "n", nil), want: false},
		"flotilla-system":                {obj: makeTemplate("v1", "ConfigMap", "flotilla-system", "c", nil), want: false},
		"namespace merely named kube-xy": {obj: makeTemplate("v1", "ConfigMap", "kube-xy", "c", nil), want: true},
		"controlled by another object":   {obj: withOwner(makeTemplate("v1", "Secret", "default", "token", nil), ptr.To(true)), want: false},
		"owned but not controlled":       {obj: withOwner(makeTemplate("v1", "Secret", "default", "token", nil), ptr.To(false)), want: true},
		"owner without controller field": {obj: withOwner(makeTemplate("v1", "Secret", "default", "token", nil), nil), want: true},
		"system: object":                 {obj: makeTemplate("rbac.authorization.k8s.io/v1", "ClusterRole", "", "system:controller", nil), want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := propagatable(tc.obj); got != tc.want {
				t.Errorf("propagatable() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	cases := map[string]struct {
		ref      workv1alpha1.PolicyReference
		want     string
		describe string
	}{
		"PropagationPolicy": {
			ref:      workv1alpha1.PolicyReference{Kind: KindPropagationPolicy, Namespace: "team-a", Name: "web"},
			want:     "PropagationPolicy/team-a/web",
			describe: "PropagationPolicy team-a/web",
		},
		"ClusterPropagationPolicy": {
			ref:      workv1alpha1.PolicyReference{Kind: KindClusterPropagationPolicy, Name: "all"},
			want:     "ClusterPropagationPolicy/all",
			describe: "ClusterPropagationPolicy all",
		},
		"ClusterPropagationPolicy ignores a namespace": {
			ref:  workv1alpha1.PolicyReference{Kind: KindClusterPropagationPolicy, Namespace: "stray", Name: "all"},
			want: "ClusterPropagationPolicy/all",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Claim(tc.ref); got != tc.want {
				t.Errorf("Claim() = %q, want %q", got, tc.want)
			}
			if got := describeRef(tc.ref); tc.describe != "" && got != tc.describe {
				t.Errorf("describeRef() = %q, want %q", got, tc.describe)
			}
		})
	}
}
