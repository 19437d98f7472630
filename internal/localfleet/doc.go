// Package localfleet runs a fleet on one machine from real Kubernetes
// binaries: a hub (etcd, kube-apiserver and a kube-controller-manager limited
// to the control-plane controllers, all on loopback with TLS and RBAC) and
// member clusters assembled by kwokctl, whose nodes and pods kwok simulates.
//
// `flotilla up` and the test harness in test/framework both use it, so what
// the tests prove is what a newcomer runs.
package localfleet
