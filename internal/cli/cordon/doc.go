// Package cordon implements the cluster maintenance commands, which all
// edit a Cluster's spec.taints:
//
//   - `flotilla cordon` keeps new templates off a cluster (taint
//     cluster.flotilla.io/unschedulable:NoSchedule) and, with --drain, moves
//     away those it runs (the same key with NoExecute);
//   - `flotilla uncordon` removes both;
//   - `flotilla taint clusters` adds and removes any taint, as
//     `kubectl taint nodes` does for nodes.
//
// Every edit reads the cluster and writes its taints back under the
// resourceVersion it read, retrying on conflict, so that a taint the hub
// writes at the same time (cluster.flotilla.io/not-ready) is never lost.
package cordon
