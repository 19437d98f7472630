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
package clusterhealth
