// Package clusterhealth probes Push member clusters from the hub and keeps
// their Cluster status current: the Ready and Reachable conditions, the
// Kubernetes version, and the node and resource summaries, which come from
// informers on each member rather than from a re-list per probe.
//
// Probing is driven by the controller's own requeue: every ProbeInterval
// while a cluster is healthy, and with exponential backoff up to MaxBackoff
// once it has been declared not ready. Ready turns False after
// FailureThreshold consecutive failed probes, so a member's outage shows
// within about FailureThreshold x ProbeInterval (+ ProbeTimeout).
//
// The APIs a member serves (status.apiEnablements, which the scheduler
// filters on) come from its discovery, at most once per StatusRefresh and
// whenever the cluster turns ready or its credentials change. A discovery
// that fails in part, as when an aggregated API server is down, keeps what
// it found and the last known kinds of the group versions that failed.
package clusterhealth
