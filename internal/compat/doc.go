// Package compat translates documents of the tools Flotilla replaces into
// Flotilla's native API, so that users keep the documents they have. Today:
// Karmada's policy.karmada.io/v1alpha1 PropagationPolicy and
// ClusterPropagationPolicy, whose fields Flotilla's policy.flotilla.io
// shares.
package compat
