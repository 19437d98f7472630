// Package v1alpha1 holds the cluster.flotilla.io/v1alpha1 API: the Cluster
// kind, which records one member cluster of the fleet, how the hub reaches it,
// and what the hub last observed of it.
//
// +kubebuilder:object:generate=true
// +groupName=cluster.flotilla.io
package v1alpha1
