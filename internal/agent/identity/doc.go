// Package identity is the agent's side of registration: it proves the hub
// before trusting it (the bootstrap token's signature on cluster-info and
// the hash of the hub's CA, as kubeadm's discovery), asks for a client
// certificate with a CertificateSigningRequest, keeps the agent's key,
// certificate and kubeconfig in its directory, and renews the certificate
// before it expires, without restarting the agent.
//
// The hub's side, and the names both sides agree on, are in
// internal/registration.
//
// An agent's directory (default ~/.flotilla-agent):
//
//	agent.yaml        the hub, the cluster name, the local kubeconfig
//	hub-ca.crt        the hub's CA, as registration proved it
//	agent-client.pem  the current certificate and its key (0600)
//	hub.kubeconfig    a kubeconfig with that identity, for kubectl
//	pending-key.pem   only while a registration waits for approval
package identity
