package registration

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// AgentNamespaceRules are the agent's rights in its cluster's namespace:
// read its Works, write their status, its Lease and events. Nothing else
// in the namespace (no Secrets, no writes to Works).
func AgentNamespaceRules(cluster string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{workv1alpha1.GroupVersion.Group}, Resources: []string{"works"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{workv1alpha1.GroupVersion.Group}, Resources: []string{"works/status"}, Verbs: []string{"get", "update", "patch"}},
		// RBAC cannot limit create to a name; the namespace is the agent's own.
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{coordinationv1.GroupName}, Resources: []string{"leases"}, ResourceNames: []string{LeaseName(cluster)}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

// AgentClusterRules are the agent's cluster-wide rights: its own Cluster
// (read) and its status (write), and its certificate renewals.
func AgentClusterRules(cluster string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{clusterv1alpha1.GroupVersion.Group}, Resources: []string{"clusters"}, ResourceNames: []string{cluster}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{clusterv1alpha1.GroupVersion.Group}, Resources: []string{"clusters/status"}, ResourceNames: []string{cluster}, Verbs: []string{"get", "update", "patch"}},
		// RBAC cannot limit create to a name; the approver approves only
		// the agent's own identity.
		{APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create"}},
		{APIGroups: []string{certificatesv1.GroupName}, Resources: []string{"certificatesigningrequests"}, ResourceNames: []string{RenewalCSRName(cluster)}, Verbs: []string{"get", "list", "watch", "delete"}},
	}
}

// agentObjects are the namespace and RBAC of a registration, owned by its
// Cluster so that deleting the Cluster revokes the agent (the hub's garbage
// collector removes them, and the namespace takes its Works and Lease).
func agentObjects(c *clusterv1alpha1.Cluster, registrationID string) []runtime.ApplyConfiguration {
	owner := metav1ac.OwnerReference().
		WithAPIVersion(clusterv1alpha1.GroupVersion.String()).WithKind("Cluster").
		WithName(c.Name).WithUID(c.UID)
	labels := map[string]string{
		clusterv1alpha1.LabelClusterName: c.Name,
		clusterv1alpha1.LabelManagedBy:   clusterv1alpha1.ManagedByValue,
	}
	ns := ClusterNamespace(c.Name)
	group := rbacv1.GroupName
	subject := rbacv1ac.Subject().WithKind(rbacv1.GroupKind).WithAPIGroup(group).WithName(RegistrationGroup(registrationID))
	crName := AgentClusterRoleName(c.Name)
	return []runtime.ApplyConfiguration{
		corev1ac.Namespace(ns).WithLabels(labels).WithOwnerReferences(owner),
		rbacv1ac.Role(AgentRoleName, ns).WithLabels(labels).WithOwnerReferences(owner).
			WithRules(policyRules(AgentNamespaceRules(c.Name))...),
		rbacv1ac.RoleBinding(AgentRoleName, ns).WithLabels(labels).WithOwnerReferences(owner).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(group).WithKind("Role").WithName(AgentRoleName)).
			WithSubjects(subject),
		rbacv1ac.ClusterRole(crName).WithLabels(labels).WithOwnerReferences(owner).
			WithRules(policyRules(AgentClusterRules(c.Name))...),
		rbacv1ac.ClusterRoleBinding(crName).WithLabels(labels).WithOwnerReferences(owner).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(group).WithKind("ClusterRole").WithName(crName)).
			WithSubjects(subject),
	}
}

func policyRules(rules []rbacv1.PolicyRule) []*rbacv1ac.PolicyRuleApplyConfiguration {
	out := make([]*rbacv1ac.PolicyRuleApplyConfiguration, len(rules))
	for i, r := range rules {
		out[i] = rbacv1ac.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).
			WithResourceNames(r.ResourceNames...).WithVerbs(r.Verbs...)
	}
	return out
}

// applyAgentRBAC creates or repairs a registration's namespace and RBAC by
// server-side apply.
func applyAgentRBAC(ctx context.Context, c client.Client, cl *clusterv1alpha1.Cluster, registrationID string) error {
	for _, o := range agentObjects(cl, registrationID) {
		if err := c.Apply(ctx, o, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply the agent's namespace and RBAC: %w", err)
		}
	}
	return nil
}
