// Package v1alpha1 holds the policy.flotilla.io/v1alpha1 API: the
// PropagationPolicy and ClusterPropagationPolicy kinds, which say which
// templates on the hub go to which member clusters, and how their replicas
// are divided. Field names and semantics follow Karmada's
// policy.karmada.io/v1alpha1, so that a Karmada user's policy works after a
// change of group.
//
// +kubebuilder:object:generate=true
// +groupName=policy.flotilla.io
package v1alpha1
