// Package registration is the hub's side of pull-mode registration, and the
// protocol that the agent's side (internal/agent/identity) follows.
//
// Registration is kubeadm's bootstrap-token trust, applied to clusters:
//
//   - `flotilla token create` writes a bootstrap token Secret in kube-system
//     and makes sure the kube-public/cluster-info ConfigMap exists, so that
//     the hub's kube-controller-manager (bootstrapsigner) signs it with the
//     token. It prints the join command with the SHA-256 hash of the hub
//     CA's public key.
//   - The agent checks that signature and that hash before it trusts the
//     hub, then asks for a client certificate with a
//     CertificateSigningRequest, authenticated by the token.
//   - The Approver (a hub controller) approves the request only for a live
//     Flotilla token and a cluster name that no other registration holds,
//     after an optional second approval (`flotilla accept NAME`). Before it
//     approves, it creates the Pull Cluster, the cluster's namespace and the
//     agent's least-privilege RBAC, all owned by the Cluster, so that
//     deleting the Cluster (`flotilla unjoin`) revokes the agent.
//   - Renewals, authenticated by the agent's current certificate, are
//     approved without a token for as long as the registration stands.
//   - The HeartbeatReconciler turns the agent's Lease into the Cluster's
//     Ready and Offline conditions.
//
// RBAC binds the agent's rights to a group unique to the registration
// (system:flotilla:registration:<id>), not to its user name: a certificate
// of an earlier registration of the same name, still unexpired, therefore
// authorizes nothing once that registration is gone.
package registration
