// Package overrides owns what OverridePolicies and ClusterOverridePolicies
// do to a template on its way to one member cluster. It is pure: no
// clients, no clock. The propagation pipeline lists the policies, asks
// Matching which of them select a template, and asks Apply to change a copy
// of the template for each cluster, recording the changes in the binding's
// status as AppliedOverrides.
//
// Order. Matching returns the policies in the order Apply applies them, so
// that the later, more specific policy has the last word:
//
//  1. every ClusterOverridePolicy before every OverridePolicy;
//  2. within each kind, by the specificity of the selector that matched,
//     ascending: kind only, then labelSelector, then name;
//  3. then by name (and, for OverridePolicies, namespace).
//
// Within a policy the rules apply in their order, each only if its
// targetCluster selects the cluster, and within a rule the overriders apply
// in the order imageOverrider, commandOverrider, argsOverrider,
// labelsOverrider, annotationsOverrider, plaintext, each list in its order.
package overrides
