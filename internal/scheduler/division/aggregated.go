package division

import (
	"cmp"
	"math"
	"slices"
)

// Aggregated packs replicas into as few targets as capacity allows. Targets
// are filled in turn, each up to its Available (unknown counts as unlimited),
// in this order: targets that already run replicas (Current > 0) first, so
// that a reschedule does not move replicas needlessly; then by most
// Available; then by name. If the capacity of all targets together is short,
// what fits is placed and the rest is reported as Unplaced with a Reason.
// replicas <= 0 gives an empty Result.
func Aggregated(replicas int64, targets []Target) Result {
	if replicas <= 0 {
		return Result{}
	}
	if len(targets) == 0 {
		return unplaced(replicas, "no target clusters")
	}
	ts := slices.Clone(targets)
	slices.SortFunc(ts, func(a, b Target) int {
		return cmp.Or(
			cmp.Compare(runs(b), runs(a)),
			cmp.Compare(room(b), room(a)),
			compareTargets(a, b),
		)
	})
	got := make([]int64, len(ts))
	left := replicas
	for i, t := range ts {
		if left == 0 {
			break
		}
		n := left
		if c := capOf(t); c != unlimited && c < n {
			n = c
		}
		got[i] = n
		left -= n
	}
	res := Result{Assignments: assignments(ts, got)}
	if left > 0 {
		// Only targets with a known Available leave replicas over, and
		// then every target is full.
		res.Unplaced = left
		res.Reason = shortReason(sortedCopy(targets), left)
	}
	return res
}

// runs is 1 if t already runs replicas, else 0.
func runs(t Target) int {
	if t.Current > 0 {
		return 1
	}
	return 0
}

// room is t's Available with unknown counted as the most.
func room(t Target) int64 {
	if t.Available < 0 {
		return math.MaxInt64
	}
	return t.Available
}
