package division

import (
	"cmp"
	"math/big"
	"math/bits"
	"slices"
	"strings"
)

// Weighted divides replicas among targets in proportion to their Weight.
//
// Each target with a positive weight w gets floor(replicas*w/sum(w)); the
// remainder goes one replica at a time to targets by descending weight, then
// by ascending name. Targets with weight 0 get nothing; if no target has a
// positive weight nothing is placed.
//
// A target whose Available is known and smaller than its share is capped
// there and the excess is divided again among the uncapped targets by the
// same rule, until no share exceeds its cap. Replicas that fit nowhere are
// reported as Unplaced, with a Reason naming the full clusters.
//
// The arithmetic is exact for any int64 inputs. replicas <= 0 gives an empty
// Result.
func Weighted(replicas int64, targets []Target) Result {
	if replicas <= 0 {
		return Result{}
	}
	if len(targets) == 0 {
		return unplaced(replicas, "no target clusters")
	}
	ts := sortedCopy(targets)
	weights := make([]int64, len(ts))
	var weighted, zero []Target
	for i, t := range ts {
		if t.Weight > 0 {
			weights[i] = t.Weight
			weighted = append(weighted, t)
		} else {
			zero = append(zero, t)
		}
	}
	if len(weighted) == 0 {
		return unplaced(replicas, "every target cluster has weight 0 ("+names(zero)+")")
	}
	got, left := divide(replicas, ts, weights)
	res := Result{Assignments: assignments(ts, got)}
	if left > 0 {
		res.Unplaced = left
		res.Reason = shortReason(weighted, left)
		if len(zero) > 0 {
			res.Reason += " (not used, weight 0: " + names(zero) + ")"
		}
	}
	return res
}

// DynamicWeighted divides replicas like Weighted, but each target's weight is
// its Available: targets with more free capacity get more replicas, and no
// target gets more than its Available. Targets with Available 0 get nothing,
// and so do targets whose Available is unknown (negative), because an unknown
// capacity cannot weigh against known ones; the Reason says so when replicas
// are left unplaced.
func DynamicWeighted(replicas int64, targets []Target) Result {
	if replicas <= 0 {
		return Result{}
	}
	if len(targets) == 0 {
		return unplaced(replicas, "no target clusters")
	}
	ts := sortedCopy(targets)
	weights := make([]int64, len(ts))
	var usable, unknown, none []Target
	for i, t := range ts {
		switch {
		case t.Available < 0:
			unknown = append(unknown, t)
		case t.Available == 0:
			none = append(none, t)
		default:
			weights[i] = t.Available
			usable = append(usable, t)
		}
	}
	unknownNote := "unknown capacity, not usable for dynamic weighting: " + names(unknown)
	if len(usable) == 0 {
		var why []string
		if len(unknown) > 0 {
			why = append(why, unknownNote)
		}
		if len(none) > 0 {
			why = append(why, "no free capacity: "+names(none))
		}
		return unplaced(replicas, "no target cluster has known free capacity ("+strings.Join(why, "; ")+")")
	}
	got, left := divide(replicas, ts, weights)
	res := Result{Assignments: assignments(ts, got)}
	if left > 0 {
		res.Unplaced = left
		res.Reason = shortReason(usable, left)
		if len(unknown) > 0 {
			res.Reason += " (" + unknownNote + ")"
		}
	}
	return res
}

// divide splits replicas among ts in proportion to weights (only weights > 0
// take part), capping each target at its known Available and dividing the
// excess again among the uncapped ones until no share exceeds a cap. It
// returns the replicas per target (in the order of ts, which must be sorted
// by compareTargets) and how many could not be placed.
//
// Every target whose share exceeds its cap in a round is capped in that
// round. Each round caps at least one target, so there are at most len(ts)
// rounds. Replicas are left over only when every weighted target is capped.
func divide(replicas int64, ts []Target, weights []int64) (got []int64, left int64) {
	got = make([]int64, len(ts))
	capped := make([]bool, len(ts))
	left = replicas
	for {
		var active []int
		for i := range ts {
			if weights[i] > 0 && !capped[i] {
				active = append(active, i)
			}
		}
		if len(active) == 0 {
			return got, left
		}
		shares := proportional(left, active, weights)
		again := false
		for k, i := range active {
			if c := capOf(ts[i]); c != unlimited && shares[k] > c {
				got[i] = c
				capped[i] = true
				left -= c
				again = true
			}
		}
		if !again {
			for k, i := range active {
				got[i] = shares[k]
			}
			return got, 0
		}
	}
}

// proportional divides total (>= 0) among the targets active (indexes into
// weights, ascending, each weight > 0): floor(total*w/sum(w)) each, then the
// remainder one at a time by descending weight, then ascending index. The
// shares are returned in the order of active and sum to total.
func proportional(total int64, active []int, weights []int64) []int64 {
	shares := make([]int64, len(active))
	var sum uint64
	overflow := false
	for _, i := range active {
		var carry uint64
		sum, carry = bits.Add64(sum, uint64(weights[i]), 0)
		if carry != 0 {
			overflow = true
			break
		}
	}
	if overflow {
		floorsBig(total, active, weights, shares)
	} else {
		for k, i := range active {
			// total*w < 2^63*sum, so the high word is below sum and the
			// quotient, at most total, fits.
			hi, lo := bits.Mul64(uint64(total), uint64(weights[i]))
			q, _ := bits.Div64(hi, lo, sum)
			shares[k] = int64(q)
		}
	}
	rest := total
	for _, s := range shares {
		rest -= s
	}
	// Each floor loses less than one replica, so rest < len(active).
	order := make([]int, len(active))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(weights[active[b]], weights[active[a]])
	})
	for _, k := range order[:rest] {
		shares[k]++
	}
	return shares
}

// floorsBig sets shares[k] = floor(total*w/sum(w)) for each active target
// with math/big, for when the sum of the weights does not fit in 64 bits.
func floorsBig(total int64, active []int, weights []int64, shares []int64) {
	sum := new(big.Int)
	for _, i := range active {
		sum.Add(sum, big.NewInt(weights[i]))
	}
	t := big.NewInt(total)
	var q big.Int
	for k, i := range active {
		q.Mul(t, big.NewInt(weights[i]))
		q.Quo(&q, sum)
		shares[k] = q.Int64()
	}
}
