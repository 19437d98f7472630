// Package division owns the arithmetic of dividing a workload's replicas among
// member clusters: static weighted division (Weighted), division weighted by
// free capacity (DynamicWeighted) and packing into few clusters (Aggregated).
//
// It is pure arithmetic over Targets the caller has already filtered and
// ordered. It knows no Kubernetes API types, estimates no capacity and never
// fails: what cannot be placed is reported as Result.Unplaced with a Reason a
// user can read. Every function is deterministic: the same Targets in any order
// give the same Result.
package division
