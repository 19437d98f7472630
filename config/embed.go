// Package config embeds the generated CRDs and RBAC of the hub, so that the
// flotilla binary can install them (`flotilla install`, `flotilla up`).
package config

import "embed"

// CRDs holds the CustomResourceDefinitions, one YAML file each.
//
//go:embed crd/bases/*.yaml
var CRDs embed.FS

// RBAC holds the hub controller's generated ClusterRole and Role.
//
//go:embed rbac/role.yaml
var RBAC []byte

// Admission holds the ValidatingAdmissionPolicies for the rules a CRD's
// own CEL cannot express.
//
//go:embed admission/*.yaml
var Admission embed.FS
