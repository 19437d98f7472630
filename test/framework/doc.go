// Package framework starts real fleets for integration and end-to-end
// tests: a hub (etcd, kube-apiserver and kube-controller-manager with TLS
// and RBAC) and kwokctl member clusters, all on loopback and free ports,
// through the same localfleet code that `flotilla up` runs.
//
// A suite starts its fleet once, in TestMain:
//
//	var env *framework.Env
//
//	func TestMain(m *testing.M) {
//		os.Exit(framework.Run(m, framework.Options{Members: ...}, &env))
//	}
//
// Each test package gets its own directory under $TMPDIR/flotilla-test, so
// packages run in parallel. The fleet is torn down when the suite ends,
// also on SIGINT/SIGTERM; a suite killed outright (a test timeout) leaves a
// directory whose owner is dead, which the next suite on the machine sweeps.
// When a suite fails, every component log is copied to $ARTIFACTS (default
// _artifacts/ at the repository root).
package framework
