package doctor

import (
	"context"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// authorizer answers SubjectAccessReviews as the hub's RBAC would with the
// approver's real agent rules, plus extra rules granted to every agent.
func authorizer(clusters []string, extra ...rbacv1.PolicyRule) interceptor.Funcs {
	return interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		sar, ok := obj.(*authorizationv1.SubjectAccessReview)
		if !ok {
			return c.Create(ctx, obj, opts...)
		}
		a := sar.Spec.ResourceAttributes
		rules := append([]rbacv1.PolicyRule(nil), extra...)
		for _, cl := range clusters {
			// The approver binds the roles to the registration's group.
			if sar.Spec.User != registration.AgentUser(cl) || !slices.Contains(sar.Spec.Groups, registration.RegistrationGroup("reg-"+cl)) {
				continue
			}
			rules = append(rules, registration.AgentClusterRules(cl)...)
			if a.Namespace == registration.ClusterNamespace(cl) {
				rules = append(rules, registration.AgentNamespaceRules(cl)...)
			}
		}
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		want := rbacv1.PolicyRule{APIGroups: []string{a.Group}, Resources: []string{res}, Verbs: []string{a.Verb}}
		if a.Name != "" {
			want.ResourceNames = []string{a.Name}
		}
		sar.Status.Allowed, _ = validation.Covers(rules, []rbacv1.PolicyRule{want})
		return nil
	}}
}

// registered is a Pull cluster with its registration ID.
func registered(name string) *clusterv1alpha1.Cluster {
	c := makeCluster(name).Pull().Obj()
	c.Annotations = map[string]string{registration.AnnotationRegistrationID: "reg-" + name}
	return c
}

func TestAgentRBAC(t *testing.T) {
	clusters := []string{"edge-1", "edge-2"}
	env := func(f interceptor.Funcs) *Env {
		e := newEnv(t, healthyHub(t), nil)
		e.Client = fake.NewClientBuilder().WithScheme(api.Scheme).
			WithObjects(registered("edge-1"), registered("edge-2"), makeCluster("cloud").Ready().Obj()).
			WithInterceptorFuncs(f).Build()
		return e
	}
	r := runOne(t, env(authorizer(clusters)), "agent-rbac")
	if r.Status != Pass || !strings.Contains(strings.Join(r.Evidence, "\n"), "edge-1: reaches its own work, status and lease; not edge-2's") {
		t.Errorf("the approver's rules: got %s %q %v, want a pass", r.Status, r.Summary, r.Evidence)
	}

	secrets := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}}
	r = runOne(t, env(authorizer(clusters, secrets)), "agent-rbac")
	if r.Status != Fail || !strings.Contains(strings.Join(r.Evidence, "\n"), "edge-1: the agent can read Secrets") || r.Fix == "" {
		t.Errorf("agents that read Secrets: got %s %v, want a failure naming it", r.Status, r.Evidence)
	}

	r = runOne(t, env(authorizer([]string{"edge-2"})), "agent-rbac")
	if r.Status != Fail || !strings.Contains(strings.Join(r.Evidence, "\n"), "edge-1: the agent cannot watch its own work") {
		t.Errorf("an agent without its roles: got %s %v", r.Status, r.Evidence)
	}

	if r := runOne(t, newEnv(t, healthyHub(t), nil, makeCluster("a").Ready().Obj()), "agent-rbac"); r.Status != Skip {
		t.Errorf("no Pull cluster: got %s, want skip", r.Status)
	}
}
