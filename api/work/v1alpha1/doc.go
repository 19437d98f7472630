// Package v1alpha1 holds the work.flotilla.io/v1alpha1 API: ResourceBinding
// and ClusterResourceBinding, the scheduling unit. The detector creates one
// binding per propagated template; the scheduler writes its decision onto
// the binding's spec; execution applies the template to the chosen clusters
// and reports each cluster's result in the binding's status.
//
// There is deliberately no object per (template, cluster): push execution
// renders each cluster's manifest from the template and the binding in
// memory, so the hub stores two objects per template however many clusters
// it reaches. docs/propagation.md explains the choice.
//
// +kubebuilder:object:generate=true
// +groupName=work.flotilla.io
package v1alpha1
