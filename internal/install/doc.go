// Package install prepares a kube-apiserver to be a Flotilla hub: it applies
// the CRDs, the flotilla-system namespace, and the RBAC that lets the hub
// controller (user system:flotilla:hub, or the service account
// flotilla-system/flotilla-hub) do its work and nothing more.
package install
