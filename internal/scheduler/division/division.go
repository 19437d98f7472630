package division

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Target is one candidate cluster, already filtered and ordered by the caller.
//
// Names are expected to be unique. Duplicates are not merged: each is divided
// as a cluster of its own and ties are broken on the other fields, so the
// result stays deterministic.
type Target struct {
	Name string
	// Weight for static weighted division (>= 0). A negative weight counts as 0.
	Weight int64
	// Available is how many more replicas the cluster can take (from its
	// free capacity against the pod template's requests); -1 (or any negative
	// value) means unknown/unlimited. When known it caps the replicas the
	// cluster is assigned, in every division. Replicas the cluster already
	// runs are not added to it: a caller rescheduling a workload should count
	// them in Available if they may stay.
	Available int64
	// Current is how many replicas the cluster runs now (for stable
	// rescheduling); 0 if none. Only Aggregated looks at it.
	Current int64
}

// Assignment is the replicas given to one cluster.
type Assignment struct {
	Name     string
	Replicas int64
}

// Result lists assignments (only clusters with Replicas > 0, sorted by Name)
// and, when not every replica could be placed, Unplaced > 0 with a Reason.
// Reason is empty exactly when Unplaced is 0.
type Result struct {
	Assignments []Assignment
	Unplaced    int64
	Reason      string
}

// Total is the number of replicas placed: the sum of all Assignments.
func (r Result) Total() int64 {
	var n int64
	for _, a := range r.Assignments {
		n += a.Replicas
	}
	return n
}

// unlimited is the internal cap of a cluster whose Available is unknown.
const unlimited = -1

// capOf returns t's cap on assigned replicas, or unlimited.
func capOf(t Target) int64 {
	if t.Available < 0 {
		return unlimited
	}
	return t.Available
}

// compareTargets orders targets by Name, then by the other fields, so that
// sorting by it removes any dependence on the caller's order.
func compareTargets(a, b Target) int {
	return cmp.Or(
		strings.Compare(a.Name, b.Name),
		cmp.Compare(a.Weight, b.Weight),
		cmp.Compare(a.Available, b.Available),
		cmp.Compare(a.Current, b.Current),
	)
}

// sortedCopy returns targets sorted by compareTargets, leaving the input alone.
func sortedCopy(targets []Target) []Target {
	s := slices.Clone(targets)
	slices.SortFunc(s, compareTargets)
	return s
}

// assignments returns the non-zero replicas of targets as Assignments sorted
// by Name (ties by Replicas); nil when there are none.
func assignments(targets []Target, replicas []int64) []Assignment {
	var out []Assignment
	for i, t := range targets {
		if replicas[i] > 0 {
			out = append(out, Assignment{Name: t.Name, Replicas: replicas[i]})
		}
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Replicas, b.Replicas))
	})
	return out
}

// unplaced returns a Result that places nothing, with Reason why + the count.
func unplaced(replicas int64, why string) Result {
	return Result{Unplaced: replicas, Reason: why + ", " + replicaCount(replicas) + " unplaced"}
}

// replicaCount says "1 replica" or "n replicas".
func replicaCount(n int64) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// shortReason explains that targets (all full) could not take unplacedN more.
// Each target is listed with its Available.
func shortReason(full []Target, unplacedN int64) string {
	parts := make([]string, 0, len(full))
	for _, t := range full {
		parts = append(parts, fmt.Sprintf("%s can take %d more", t.Name, t.Available))
	}
	return "capacity short: " + strings.Join(parts, ", ") + ", " + replicaCount(unplacedN) + " unplaced"
}

// names joins the names of targets with ", ".
func names(targets []Target) string {
	s := make([]string, len(targets))
	for i, t := range targets {
		s[i] = t.Name
	}
	return strings.Join(s, ", ")
}
