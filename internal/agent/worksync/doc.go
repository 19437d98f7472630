// Package worksync is the pull-mode agent's work sync engine: it keeps the
// agent's cluster running what the cluster's Works on the hub say, and keeps
// doing so while the hub is unreachable.
//
// It owns:
//   - the watch of the Works in the cluster's namespace on the hub, with
//     only the rights an agent has there (get, list and watch works; patch
//     works/status), and the state of that connection (Engine.Connected);
//   - the local store: every Work's spec, written (fsync'd) to a bbolt
//     database before anything of it is applied, so that a restart while
//     the hub is unreachable resumes from disk;
//   - server-side apply of the manifests to the local cluster (field manager
//     flotilla-agent), conflict resolution, and the correction of drift,
//     seen by informers on the cluster's objects labelled
//     app.kubernetes.io/managed-by=flotilla;
//   - removal of a Work's objects, only when the hub said the Work is gone
//     (a watch delete, or a successful list without it) or dropped them
//     from its spec: never because the hub is unreachable;
//   - the Work's status on the hub, written when it changes, coalesced, and
//     caught up as soon as the hub is back.
//
// It does not register the agent, heartbeat, or decide what a Work holds:
// the hub renders the manifests. docs/pull-mode-work.md describes the
// behaviour and the metrics.
package worksync
