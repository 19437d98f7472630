// Package doctor owns the operator checklist that `flotilla doctor` runs
// against a live fleet: whether the hub and its controllers run, whether
// every member is Ready, reachable and holds credentials that have not
// expired, whether every policy claims templates and every binding is
// scheduled and applied, and how the fleet is secured and monitored.
//
// The checklist is data: DefaultChecks is a slice of Check, each a group, a
// name and a function from an Env to a Result. Later features add their
// checks to it. A check never reports a pass it did not verify: what
// Flotilla cannot observe, or a capability that does not exist yet, is a
// skip with the reason.
//
// An Env carries everything a check reads: a controller-runtime client of
// the hub, a Hub to probe its API server, the connection settings of the
// kubeconfig, the hub's metrics endpoint and the time. Tests build one from
// fabricated objects (a fake client) and fakes of Hub and the metrics
// endpoint; NewLiveHub and HTTPGet are the real ones.
package doctor
