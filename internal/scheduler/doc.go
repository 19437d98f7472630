// Package scheduler decides which member clusters run a binding's template
// and how many replicas each runs.
//
// Schedule is the decision itself, a pure function of the binding's spec,
// the fleet's Clusters and the clusters the binding runs on now: it filters
// the clusters (Ready, not being deleted, clusterAffinity or the first
// workable clusterAffinities group, taints, served APIs), applies the
// spreadConstraints, and divides the replicas with the division package. It
// explains itself cluster by cluster, and fingerprints its inputs except
// live capacity, so that the Reconciler decides again only when something
// that matters changed and free capacity going up and down never moves
// replicas.
//
// The Reconciler runs Schedule for ResourceBindings and
// ClusterResourceBindings, writes the decision to spec.clusters and the
// reasons to status, and watches Clusters to decide again when the fleet
// changes.
package scheduler
