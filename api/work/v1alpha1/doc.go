// Package v1alpha1 holds the work.flotilla.io/v1alpha1 API: ResourceBinding
// and ClusterResourceBinding, the scheduling unit. The detector creates one
// binding per propagated template; the scheduler writes its decision onto
// the binding's spec; execution applies the template to the chosen clusters
// and reports each cluster's result in the binding's status.
//
// There is deliberately no object per (template, cluster) for Push
// clusters: execution renders each cluster's manifest from the template and
// the binding in memory, so the hub stores two objects per template however
// many Push clusters it reaches. A Pull cluster's agent cannot be reached,
// so for each binding placed on one the hub writes a Work, in the cluster's
// namespace, that the agent applies. docs/propagation.md explains the
// choice.
//
// +kubebuilder:object:generate=true
// +groupName=work.flotilla.io
package v1alpha1
