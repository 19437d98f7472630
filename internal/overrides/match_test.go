package overrides

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestMatching(t *testing.T) {
	web := MakeDeployment("team-a", "web").Labels(map[string]string{"app": "web"}).Obj()
	rule := replicas(1)
	cases := map[string]struct {
		ops  []*policyWrapper
		cops []*policyWrapper
		want []string // Policy.String():specificity, in order
	}{
		"nothing matches": {
			ops:  []*policyWrapper{MakeOverridePolicy("team-a", "api").Select(named("api"))},
			cops: []*policyWrapper{MakeClusterOverridePolicy("sts").Select(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "StatefulSet"})},
		},
		"an OverridePolicy only matches its own namespace": {
			ops: []*policyWrapper{
				MakeOverridePolicy("team-b", "other").Select(deployments()),
				MakeOverridePolicy("team-b", "reach").Select(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a"}),
				MakeOverridePolicy("team-a", "own").Select(deployments()),
			},
			want: []string{"OverridePolicy/team-a/own:1"},
		},
		"a ClusterOverridePolicy matches any namespace, or the one it names": {
			cops: []*policyWrapper{
				MakeClusterOverridePolicy("all").Select(deployments()),
				MakeClusterOverridePolicy("a").Select(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-a"}),
				MakeClusterOverridePolicy("b").Select(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-b"}),
			},
			want: []string{"ClusterOverridePolicy/a:1", "ClusterOverridePolicy/all:1"},
		},
		"the best matching selector counts": {
			ops:  []*policyWrapper{MakeOverridePolicy("team-a", "p").Select(deployments(), named("api"), labelled("app", "web"))},
			want: []string{"OverridePolicy/team-a/p:2"},
		},
		"apiVersion must match": {
			cops: []*policyWrapper{MakeClusterOverridePolicy("old").Select(policyv1alpha1.ResourceSelector{APIVersion: "apps/v1beta1", Kind: "Deployment"})},
		},
		"policies being deleted are left out": {
			ops:  []*policyWrapper{MakeOverridePolicy("team-a", "going").Select(deployments()).Deleting()},
			cops: []*policyWrapper{MakeClusterOverridePolicy("going").Select(deployments()).Deleting()},
		},
		"cluster policies first, then by specificity ascending, then by name": {
			ops: []*policyWrapper{
				MakeOverridePolicy("team-a", "a-name").Select(named("web")),
				MakeOverridePolicy("team-a", "b-kind").Select(deployments()),
				MakeOverridePolicy("team-a", "a-kind").Select(deployments()),
				MakeOverridePolicy("team-a", "z-label").Select(labelled("app", "web")),
			},
			cops: []*policyWrapper{
				MakeClusterOverridePolicy("by-name").Select(named("web")),
				MakeClusterOverridePolicy("by-label").Select(labelled("app", "web")),
				MakeClusterOverridePolicy("z-kind").Select(deployments()),
				MakeClusterOverridePolicy("a-kind").Select(deployments()),
			},
			want: []string{
				"ClusterOverridePolicy/a-kind:1", "ClusterOverridePolicy/z-kind:1",
				"ClusterOverridePolicy/by-label:2", "ClusterOverridePolicy/by-name:3",
				"OverridePolicy/team-a/a-kind:1", "OverridePolicy/team-a/b-kind:1",
				"OverridePolicy/team-a/z-label:2", "OverridePolicy/team-a/a-name:3",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var ops []policyv1alpha1.OverridePolicy
			for _, w := range tc.ops {
				ops = append(ops, w.Rule(nil, rule).OP())
			}
			var cops []policyv1alpha1.ClusterOverridePolicy
			for _, w := range tc.cops {
				cops = append(cops, w.Rule(nil, rule).COP())
			}
			var got []string
			for _, p := range Matching(web, ops, cops) {
				got = append(got, fmt.Sprintf("%s:%d", p, p.Specificity))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Matching (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchingDoesNotSelectClusterScopedTemplatesForOverridePolicies(t *testing.T) {
	role := MakeTemplate("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader").Obj()
	sel := policyv1alpha1.ResourceSelector{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}
	ops := []policyv1alpha1.OverridePolicy{MakeOverridePolicy("default", "op").Select(sel).Rule(nil, replicas(1)).OP()}
	cops := []policyv1alpha1.ClusterOverridePolicy{MakeClusterOverridePolicy("cop").Select(sel).Rule(nil, replicas(1)).COP()}
	got := Matching(role, ops, cops)
	if len(got) != 1 || got[0].String() != "ClusterOverridePolicy/cop" {
		t.Errorf("Matching = %v, want only the ClusterOverridePolicy", got)
	}
}

// The later policy wins: each policy sets replicas, and the most specific
// OverridePolicy has the last word, whatever the order of the lists.
func TestLaterPolicyWins(t *testing.T) {
	web := MakeDeployment("default", "web").Labels(map[string]string{"app": "web"}).Obj()
	ops := []policyv1alpha1.OverridePolicy{
		MakeOverridePolicy("default", "by-name").Select(named("web")).Rule(nil, replicas(5)).OP(),
		MakeOverridePolicy("default", "by-label").Select(labelled("app", "web")).Rule(nil, replicas(4)).OP(),
	}
	cops := []policyv1alpha1.ClusterOverridePolicy{
		MakeClusterOverridePolicy("specific").Select(named("web")).Rule(nil, replicas(2)).COP(),
		MakeClusterOverridePolicy("everything").Select(deployments()).Rule(nil, replicas(1)).COP(),
	}
	obj := web.DeepCopy()
	got, err := Apply(obj, MakeCluster("m1", nil), Matching(web, ops, cops))
	if err != nil {
		t.Fatal(err)
	}
	want := []workv1alpha1.AppliedOverride{
		{Policy: "ClusterOverridePolicy/everything", Changes: []string{"spec.replicas: 3 -> 1"}},
		{Policy: "ClusterOverridePolicy/specific", Changes: []string{"spec.replicas: 1 -> 2"}},
		{Policy: "OverridePolicy/default/by-label", Changes: []string{"spec.replicas: 2 -> 4"}},
		{Policy: "OverridePolicy/default/by-name", Changes: []string{"spec.replicas: 4 -> 5"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if r, _ := lookup(obj.Object, []string{"spec", "replicas"}); r != int64(5) {
		t.Errorf("replicas = %v, want 5 from OverridePolicy/default/by-name", r)
	}
	if r, _ := lookup(web.Object, []string{"spec", "replicas"}); r != int64(3) {
		t.Errorf("the template itself changed: replicas = %v", r)
	}
}

func TestClusterTargeting(t *testing.T) {
	prod := map[string]string{"environment": "production"}
	m1 := MakeCluster("member-cluster-1", prod)
	m2 := MakeCluster("member-cluster-2", prod)
	edge := MakeCluster("edge-cluster", map[string]string{"environment": "edge"})
	tier := func(v string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: add, Value: map[string]string{"tier": v}}}}
	}
	policies := []Policy{
		MakeClusterOverridePolicy("by-labels").
			Rule(&policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: prod}}, tier("prod")).Policy(),
		MakeOverridePolicy("default", "by-names").
			Rule(&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}}, tier("one")).
			Rule(&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1", "edge-cluster"}, Exclude: []string{"edge-cluster"}}, replicas(7)).
			Rule(nil, policyv1alpha1.Overriders{AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: add, Value: map[string]string{"seen": "yes"}}}}).
			Policy(),
		MakeOverridePolicy("default", "edge-only").
			Rule(&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"edge-cluster"}}, tier("edge")).Policy(),
	}
	cases := map[string]struct {
		cluster *clusterv1alpha1.Cluster
		want    []workv1alpha1.AppliedOverride
	}{
		"member-cluster-1: every rule but edge's": {
			cluster: m1,
			want: []workv1alpha1.AppliedOverride{
				{Policy: "ClusterOverridePolicy/by-labels", Changes: []string{"metadata.labels.tier: (none) -> prod"}},
				{Policy: "OverridePolicy/default/by-names", Changes: []string{"metadata.labels.tier: prod -> one", "spec.replicas: 3 -> 7", "metadata.annotations.seen: (none) -> yes"}},
			},
		},
		"member-cluster-2: labels, and the rule for all clusters": {
			cluster: m2,
			want: []workv1alpha1.AppliedOverride{
				{Policy: "ClusterOverridePolicy/by-labels", Changes: []string{"metadata.labels.tier: (none) -> prod"}},
				{Policy: "OverridePolicy/default/by-names", Changes: []string{"metadata.annotations.seen: (none) -> yes"}},
			},
		},
		"edge-cluster: excluded from the replicas rule": {
			cluster: edge,
			want: []workv1alpha1.AppliedOverride{
				{Policy: "OverridePolicy/default/by-names", Changes: []string{"metadata.annotations.seen: (none) -> yes"}},
				{Policy: "OverridePolicy/default/edge-only", Changes: []string{"metadata.labels.tier: (none) -> edge"}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Apply(MakeDeployment("default", "web").Obj(), tc.cluster, policies)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorNamesPolicyAndRule(t *testing.T) {
	p := MakeClusterOverridePolicy("mirror").
		Rule(nil, replicas(2)).
		Rule(&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"m1"}}, policyv1alpha1.Overriders{Plaintext: []policyv1alpha1.PlaintextOverrider{plain(remove, "/spec/gone", nil)}}).
		Policy()
	web := MakeDeployment("default", "web").Obj()
	if _, err := Apply(web.DeepCopy(), MakeCluster("m2", nil), []Policy{p}); err != nil {
		t.Errorf("the failing rule does not target m2, yet: %v", err)
	}
	obj := web.DeepCopy()
	_, err := Apply(obj, MakeCluster("m1", nil), []Policy{p})
	want := "ClusterOverridePolicy/mirror rule 1 plaintext /spec/gone: remove of a path that does not exist"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if diff := cmp.Diff(web.Object, obj.Object); diff != "" {
		t.Errorf("a failed Apply changed the object (rule 0 ran first):\n%s", diff)
	}
}

func TestApplyWithoutCluster(t *testing.T) {
	if _, err := Apply(MakeDeployment("default", "web").Obj(), nil, nil); err == nil {
		t.Error("Apply with a nil cluster succeeded")
	}
}

func TestChangeLimits(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("line %d", i)
	}
	long := "spec.x: " + strings.Repeat("é", 1000) + " -> y"
	cases := map[string]struct {
		in   []string
		want func(t *testing.T, got []string)
	}{
		"at most 32 lines, the last counts the rest": {
			in: many,
			want: func(t *testing.T, got []string) {
				if len(got) != MaxChanges || got[30] != "line 30" || got[31] != "… and 9 more changes" {
					t.Errorf("got %d lines ending %q", len(got), got[len(got)-2:])
				}
			},
		},
		"32 lines are kept as they are": {
			in: many[:32],
			want: func(t *testing.T, got []string) {
				if diff := cmp.Diff(many[:32], got); diff != "" {
					t.Error(diff)
				}
			},
		},
		"a long line is cut on a rune boundary": {
			in: []string{long},
			want: func(t *testing.T, got []string) {
				if len(got[0]) > MaxChangeLength || !utf8.ValidString(got[0]) || !strings.HasSuffix(got[0], "…") || !strings.HasPrefix(got[0], "spec.x: é") {
					t.Errorf("got %d bytes, valid UTF-8 %v: %q…", len(got[0]), utf8.ValidString(got[0]), got[0][:20])
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.want(t, capChanges(append([]string(nil), tc.in...)))
		})
	}
}

// Many changes by one policy are capped in the AppliedOverride.
func TestApplyCapsChanges(t *testing.T) {
	values := map[string]string{}
	for i := range 40 {
		values[fmt.Sprintf("k%02d", i)] = "v"
	}
	p := MakeOverridePolicy("default", "many").Rule(nil, policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: add, Value: values}}}).Policy()
	obj := MakeDeployment("default", "web").Obj()
	got, err := Apply(obj, MakeCluster("m1", nil), []Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got[0].Changes); n != MaxChanges {
		t.Errorf("%d change lines, want %d", n, MaxChanges)
	}
	if n := len(obj.GetLabels()); n != 40 {
		t.Errorf("%d labels set, want all 40: the cap is on the record, not the change", n)
	}
}
