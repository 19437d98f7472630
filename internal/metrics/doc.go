// Package metrics defines every Prometheus metric the hub exports. They are
// registered with controller-runtime's registry, so `flotilla hub` serves
// them on its metrics endpoint beside controller-runtime's own
// (controller_runtime_reconcile_total, workqueue_depth and the rest).
// docs/metrics.md lists them all.
package metrics
