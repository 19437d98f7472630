package doctor

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// maxAgentRBACClusters bounds the clusters whose agents the check asks
// about: each costs a handful of SubjectAccessReviews.
const maxAgentRBACClusters = 20

// agentAccess is one question about an agent's rights, and the answer
// least privilege wants.
type agentAccess struct {
	what  string
	attrs authorizationv1.ResourceAttributes
	allow bool
}

// agentAccesses are the questions for the agent of cluster; other is
// another cluster's name, whose work and status it must not reach.
func agentAccesses(cluster, other string) []agentAccess {
	works := workv1alpha1.GroupVersion.Group
	clusters := clusterv1alpha1.GroupVersion.Group
	own, theirs := registration.ClusterNamespace(cluster), registration.ClusterNamespace(other)
	return []agentAccess{
		{"watch its own work", authorizationv1.ResourceAttributes{Namespace: own, Verb: "watch", Group: works, Resource: "works"}, true},
		{"report its own work's status", authorizationv1.ResourceAttributes{Namespace: own, Verb: "patch", Group: works, Resource: "works", Subresource: "status"}, true},
		{"report its own Cluster's status", authorizationv1.ResourceAttributes{Verb: "patch", Group: clusters, Resource: "clusters", Subresource: "status", Name: cluster}, true},
		{"renew its own lease", authorizationv1.ResourceAttributes{Namespace: own, Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Name: registration.LeaseName(cluster)}, true},
		{"read another cluster's work", authorizationv1.ResourceAttributes{Namespace: theirs, Verb: "list", Group: works, Resource: "works"}, false},
		{"write another cluster's work status", authorizationv1.ResourceAttributes{Namespace: theirs, Verb: "patch", Group: works, Resource: "works", Subresource: "status"}, false},
		{"change its own work", authorizationv1.ResourceAttributes{Namespace: own, Verb: "update", Group: works, Resource: "works"}, false},
		{"write another Cluster's status", authorizationv1.ResourceAttributes{Verb: "patch", Group: clusters, Resource: "clusters", Subresource: "status", Name: other}, false},
		{"change its own Cluster's spec", authorizationv1.ResourceAttributes{Verb: "update", Group: clusters, Resource: "clusters", Name: cluster}, false},
		{"read Secrets", authorizationv1.ResourceAttributes{Verb: "list", Resource: "secrets"}, false},
		{"read templates on the hub", authorizationv1.ResourceAttributes{Verb: "list", Group: "apps", Resource: "deployments"}, false},
	}
}

// checkAgentRBAC asks the hub's authorizer, with SubjectAccessReviews for
// each Pull cluster's agent identity, whether the agent can do what it
// needs and nothing of another cluster's.
func checkAgentRBAC(ctx context.Context, e *Env) Result {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	var pull, ev, bad []string
	groups := map[string][]string{}
	for i := range cls {
		switch {
		case cls[i].Spec.SyncMode != clusterv1alpha1.Pull:
		case cls[i].Annotations[registration.AnnotationAcceptance] == registration.AcceptancePending:
			ev = append(ev, cls[i].Name+": waits for `flotilla accept`; its agent has no rights yet")
		default:
			pull = append(pull, cls[i].Name)
			// The groups of the agent's certificate: every agent's, and
			// its registration's, which its roles are bound to.
			groups[cls[i].Name] = []string{registration.AgentsGroup, "system:authenticated"}
			if id := cls[i].Annotations[registration.AnnotationRegistrationID]; id != "" {
				groups[cls[i].Name] = append(groups[cls[i].Name], registration.RegistrationGroup(id))
			}
		}
	}
	if len(pull) == 0 {
		return skip("no agent of a Pull cluster to check", "there are no accepted Pull clusters", ev...)
	}
	if len(pull) > maxAgentRBACClusters {
		ev = append(ev, fmt.Sprintf("checked the first %d of %d Pull clusters", maxAgentRBACClusters, len(pull)))
		pull = pull[:maxAgentRBACClusters]
	}
	for i, name := range pull {
		other := "doctor-other-cluster"
		if len(pull) > 1 {
			other = pull[(i+1)%len(pull)]
		}
		var wrong []string
		for _, a := range agentAccesses(name, other) {
			attrs := a.attrs
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: registration.AgentUser(name), Groups: groups[name],
				ResourceAttributes: &attrs,
			}}
			if err := e.Client.Create(ctx, sar); err != nil {
				return cannotRead("subjectaccessreviews (authorization.k8s.io)", err)
			}
			if sar.Status.Allowed != a.allow {
				verb := "cannot"
				if sar.Status.Allowed {
					verb = "can"
				}
				wrong = append(wrong, fmt.Sprintf("%s %s", verb, a.what))
			}
		}
		if len(wrong) > 0 {
			bad = append(bad, fmt.Sprintf("%s: the agent %s", name, strings.Join(wrong, ", ")))
		} else {
			ev = append(ev, fmt.Sprintf("%s: reaches its own work, status and lease; not %s's, not Secrets or templates", name, other))
		}
	}
	if len(bad) > 0 {
		return fail(plural(len(bad), "agent has", "agents have")+" other rights than least privilege allows",
			"an agent that cannot reach its own objects: re-create its roles by re-registering it (`flotilla unjoin NAME`, then `flotilla register`); "+
				"an agent with more rights: find the RoleBinding or ClusterRoleBinding that grants them to its user or to the group "+registration.AgentsGroup+
				" (`kubectl get clusterrolebindings,rolebindings -A -o wide`) and remove it",
			append(bad, ev...)...)
	}
	return pass(fmt.Sprintf("%s: each agent reaches only its own cluster's work, status and lease", plural(len(pull), "agent checked", "agents checked")), ev...)
}
