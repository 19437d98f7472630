package division

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type divideCase struct {
	replicas int64
	targets  []Target
	want     Result
}

func runCases(t *testing.T, fn func(int64, []Target) Result, cases map[string]divideCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := fn(tc.replicas, tc.targets)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The same targets reversed give the same result.
			rev := make([]Target, len(tc.targets))
			for i, tg := range tc.targets {
				rev[len(rev)-1-i] = tg
			}
			if diff := cmp.Diff(got, fn(tc.replicas, rev)); diff != "" {
				t.Errorf("reversed targets changed the result (-forward +reversed):\n%s", diff)
			}
		})
	}
}

// w is a target with a weight and unknown capacity.
func w(name string, weight int64) Target {
	return Target{Name: name, Weight: weight, Available: -1}
}

// wa is a target with a weight and a known capacity.
func wa(name string, weight, available int64) Target {
	return Target{Name: name, Weight: weight, Available: available}
}

func as(kv ...any) []Assignment {
	var out []Assignment
	for i := 0; i < len(kv); i += 2 {
		out = append(out, Assignment{Name: kv[i].(string), Replicas: int64(kv[i+1].(int))})
	}
	return out
}

func TestWeighted(t *testing.T) {
	// q is floor(MaxInt64/3); MaxInt64 = 3q+1.
	const q = math.MaxInt64 / 3
	runCases(t, Weighted, map[string]divideCase{
		"zero replicas": {
			replicas: 0,
			targets:  []Target{w("a", 1), w("b", 1)},
			want:     Result{},
		},
		"negative replicas place nothing and report nothing": {
			replicas: -3,
			targets:  []Target{w("a", 1)},
			want:     Result{},
		},
		"spec: 3 replicas at 2:1": {
			replicas: 3,
			targets:  []Target{w("member-cluster-1", 2), w("member-cluster-2", 1)},
			want:     Result{Assignments: as("member-cluster-1", 2, "member-cluster-2", 1)},
		},
		"more clusters than replicas": {
			replicas: 2,
			targets:  []Target{w("d", 1), w("c", 1), w("b", 1), w("a", 1)},
			want:     Result{Assignments: as("a", 1, "b", 1)},
		},
		"remainder goes to the heaviest, then by name": {
			// floors 0, 0, 2, 2; the 3 left go to c and d (weight 3), then a.
			replicas: 7,
			targets:  []Target{w("d", 3), w("b", 1), w("c", 3), w("a", 1)},
			want:     Result{Assignments: as("a", 1, "c", 3, "d", 3)},
		},
		"remainder by weight, not by largest fraction": {
			// Exact shares 1.2, 2.4, 2.4: floors 1, 2, 2 and the one left
			// goes to b (weight 2, before c by name), although a's
			// fraction is no smaller.
			replicas: 6,
			targets:  []Target{w("a", 1), w("b", 2), w("c", 2)},
			want:     Result{Assignments: as("a", 1, "b", 3, "c", 2)},
		},
		"even division": {
			replicas: 9,
			targets:  []Target{w("a", 5), w("b", 5), w("c", 5)},
			want:     Result{Assignments: as("a", 3, "b", 3, "c", 3)},
		},
		"some zero weights get nothing": {
			replicas: 5,
			targets:  []Target{w("a", 0), w("b", 1), w("c", 1), w("d", 0)},
			want:     Result{Assignments: as("b", 3, "c", 2)},
		},
		"negative weight counts as zero": {
			replicas: 4,
			targets:  []Target{w("a", -5), w("b", 1)},
			want:     Result{Assignments: as("b", 4)},
		},
		"all zero weights place nothing": {
			replicas: 4,
			targets:  []Target{w("b", 0), w("a", 0)},
			want: Result{Unplaced: 4,
				Reason: "every target cluster has weight 0 (a, b), 4 replicas unplaced"},
		},
		"no targets": {
			replicas: 1,
			targets:  nil,
			want:     Result{Unplaced: 1, Reason: "no target clusters, 1 replica unplaced"},
		},
		"capacity short on one cluster: excess redistributed": {
			// 3 each; b takes only 1, the other 2 go to a and c.
			replicas: 9,
			targets:  []Target{w("a", 1), wa("b", 1, 1), w("c", 1)},
			want:     Result{Assignments: as("a", 4, "b", 1, "c", 4)},
		},
		"redistribution repeats until stable": {
			// Round 1: 3 each, a capped at 1. Round 2: 11 over b, c, d
			// is 4, 4, 3, b capped at 3. Round 3: 8 over c, d is 4, 4.
			replicas: 12,
			targets:  []Target{wa("a", 1, 1), wa("b", 1, 3), w("c", 1), wa("d", 1, 10)},
			want:     Result{Assignments: as("a", 1, "b", 3, "c", 4, "d", 4)},
		},
		"known capacity of zero takes nothing": {
			replicas: 4,
			targets:  []Target{wa("a", 1, 0), w("b", 1)},
			want:     Result{Assignments: as("b", 4)},
		},
		"capacity not binding": {
			replicas: 4,
			targets:  []Target{wa("a", 1, 2), wa("b", 1, 2)},
			want:     Result{Assignments: as("a", 2, "b", 2)},
		},
		"spec reason: capacity short on the only cluster": {
			replicas: 3,
			targets:  []Target{wa("member-cluster-2", 1, 1)},
			want: Result{Assignments: as("member-cluster-2", 1), Unplaced: 2,
				Reason: "capacity short: member-cluster-2 can take 1 more, 2 replicas unplaced"},
		},
		"capacity short everywhere": {
			// Zero-weight c has room but is not used.
			replicas: 10,
			targets:  []Target{wa("b", 1, 3), wa("a", 2, 2), wa("c", 0, 100), wa("d", 1, 0)},
			want: Result{Assignments: as("a", 2, "b", 3), Unplaced: 5,
				Reason: "capacity short: a can take 2 more, b can take 3 more, d can take 0 more, 5 replicas unplaced (not used, weight 0: c)"},
		},
		"large numbers do not overflow": {
			// Shares 5e8, 5e8-0.5, 0.5: floors 5e8, 5e8-1, 0 and the one
			// left goes to the heaviest.
			replicas: 1_000_000_000,
			targets:  []Target{w("a", 1_000_000_000), w("b", 999_999_999), w("c", 1)},
			want:     Result{Assignments: as("a", 500_000_001, "b", 499_999_999)},
		},
		"largest int64 replicas and weights": {
			// The sum of weights exceeds 64 bits.
			replicas: math.MaxInt64,
			targets:  []Target{w("c", math.MaxInt64), w("a", math.MaxInt64), w("b", math.MaxInt64)},
			want: Result{Assignments: []Assignment{
				{Name: "a", Replicas: q + 1}, {Name: "b", Replicas: q}, {Name: "c", Replicas: q}}},
		},
		"largest int64 replicas, small weights": {
			replicas: math.MaxInt64,
			targets:  []Target{w("a", 1), w("b", 2)},
			want: Result{Assignments: []Assignment{
				{Name: "a", Replicas: q}, {Name: "b", Replicas: 2*q + 1}}},
		},
		"current replicas are ignored": {
			replicas: 2,
			targets:  []Target{{Name: "a", Weight: 1, Available: -1, Current: 2}, w("b", 1)},
			want:     Result{Assignments: as("a", 1, "b", 1)},
		},
	})
}

// av is a target with a known (or, if negative, unknown) capacity.
func av(name string, available int64) Target {
	return Target{Name: name, Available: available}
}

func TestDynamicWeighted(t *testing.T) {
	runCases(t, DynamicWeighted, map[string]divideCase{
		"zero replicas": {
			replicas: 0,
			targets:  []Target{av("a", 3)},
			want:     Result{},
		},
		"weights are free capacity": {
			replicas: 6,
			targets:  []Target{av("a", 2), av("b", 4), av("c", 6)},
			want:     Result{Assignments: as("a", 1, "b", 2, "c", 3)},
		},
		"static weights are ignored": {
			replicas: 6,
			targets:  []Target{wa("a", 100, 2), wa("b", 0, 4)},
			want:     Result{Assignments: as("a", 2, "b", 4)},
		},
		"remainder by capacity, then name": {
			// Floors 0, 1, 1; the one left goes to c (most capacity).
			replicas: 3,
			targets:  []Target{av("a", 1), av("b", 2), av("c", 3)},
			want:     Result{Assignments: as("b", 1, "c", 2)},
		},
		"more clusters than replicas": {
			replicas: 1,
			targets:  []Target{av("a", 5), av("b", 5), av("c", 5)},
			want:     Result{Assignments: as("a", 1)},
		},
		"zero capacity gets nothing": {
			replicas: 4,
			targets:  []Target{av("a", 0), av("b", 10)},
			want:     Result{Assignments: as("b", 4)},
		},
		"unknown capacity gets nothing": {
			replicas: 4,
			targets:  []Target{wa("a", 5, -1), av("b", 10)},
			want:     Result{Assignments: as("b", 4)},
		},
		"never exceeds capacity": {
			replicas: 10,
			targets:  []Target{av("a", 1), av("b", 2)},
			want: Result{Assignments: as("a", 1, "b", 2), Unplaced: 7,
				Reason: "capacity short: a can take 1 more, b can take 2 more, 7 replicas unplaced"},
		},
		"capacity short with unknown clusters says so": {
			replicas: 5,
			targets:  []Target{av("a", 2), av("u", -1), av("z", 0)},
			want: Result{Assignments: as("a", 2), Unplaced: 3,
				Reason: "capacity short: a can take 2 more, 3 replicas unplaced (unknown capacity, not usable for dynamic weighting: u)"},
		},
		"only unknown and full clusters place nothing": {
			replicas: 4,
			targets:  []Target{av("b", 0), av("a", -1)},
			want: Result{Unplaced: 4,
				Reason: "no target cluster has known free capacity (unknown capacity, not usable for dynamic weighting: a; no free capacity: b), 4 replicas unplaced"},
		},
		"only unknown clusters place nothing": {
			replicas: 4,
			targets:  []Target{av("a", -1)},
			want: Result{Unplaced: 4,
				Reason: "no target cluster has known free capacity (unknown capacity, not usable for dynamic weighting: a), 4 replicas unplaced"},
		},
		"no targets": {
			replicas: 2,
			want:     Result{Unplaced: 2, Reason: "no target clusters, 2 replicas unplaced"},
		},
		"large numbers do not overflow": {
			replicas: 1_000_000_000,
			targets:  []Target{av("a", math.MaxInt64), av("b", math.MaxInt64), av("c", 1_000_000_000)},
			want:     Result{Assignments: as("a", 500_000_000, "b", 500_000_000)},
		},
	})
}

func TestAggregated(t *testing.T) {
	runCases(t, Aggregated, map[string]divideCase{
		"zero replicas": {
			replicas: 0,
			targets:  []Target{av("a", 3)},
			want:     Result{},
		},
		"fits in the cluster with the most capacity": {
			replicas: 5,
			targets:  []Target{av("a", 3), av("b", 10), av("c", 4)},
			want:     Result{Assignments: as("b", 5)},
		},
		"spills over in order of capacity": {
			replicas: 12,
			targets:  []Target{av("a", 3), av("b", 10), av("c", 4)},
			want:     Result{Assignments: as("b", 10, "c", 2)},
		},
		"more clusters than replicas": {
			replicas: 2,
			targets:  []Target{av("a", 5), av("b", 5), av("c", 5)},
			want:     Result{Assignments: as("a", 2)},
		},
		"equal capacity: by name": {
			replicas: 3,
			targets:  []Target{av("c", 3), av("b", 3)},
			want:     Result{Assignments: as("b", 3)},
		},
		"prefers clusters that already run replicas": {
			replicas: 5,
			targets:  []Target{av("a", 10), {Name: "b", Available: 6, Current: 2}},
			want:     Result{Assignments: as("b", 5)},
		},
		"current clusters first, then the rest by capacity": {
			replicas: 10,
			targets: []Target{av("a", 10), av("c", 3),
				{Name: "b", Available: 6, Current: 2}},
			want: Result{Assignments: as("a", 4, "b", 6)},
		},
		"current clusters among themselves by capacity": {
			replicas: 10,
			targets: []Target{av("x", 100),
				{Name: "b", Available: 4, Current: 9}, {Name: "a", Available: 8, Current: 1}},
			want: Result{Assignments: as("a", 8, "b", 2)},
		},
		"current cluster with no capacity keeps nothing": {
			// Available caps the total assignment; see Target.Available.
			replicas: 3,
			targets:  []Target{{Name: "a", Available: 0, Current: 3}, av("b", 5)},
			want:     Result{Assignments: as("b", 3)},
		},
		"unknown capacity is unlimited": {
			replicas: 100,
			targets:  []Target{av("a", 50), av("b", -1)},
			want:     Result{Assignments: as("b", 100)},
		},
		"weights are ignored": {
			replicas: 4,
			targets:  []Target{wa("a", 100, 2), wa("b", 0, 4)},
			want:     Result{Assignments: as("b", 4)},
		},
		"capacity short": {
			replicas: 10,
			targets:  []Target{av("b", 4), av("a", 3), av("c", 0)},
			want: Result{Assignments: as("a", 3, "b", 4), Unplaced: 3,
				Reason: "capacity short: a can take 3 more, b can take 4 more, c can take 0 more, 3 replicas unplaced"},
		},
		"no targets": {
			replicas: 2,
			want:     Result{Unplaced: 2, Reason: "no target clusters, 2 replicas unplaced"},
		},
		"large numbers do not overflow": {
			replicas: math.MaxInt64,
			targets:  []Target{av("a", math.MaxInt64-1), av("b", math.MaxInt64)},
			want:     Result{Assignments: []Assignment{{Name: "b", Replicas: math.MaxInt64}}},
		},
	})
}

// TestOrderIndependence divides the same targets in every order and expects
// one result per function.
func TestOrderIndependence(t *testing.T) {
	targets := []Target{
		{Name: "a", Weight: 3, Available: 2},
		{Name: "b", Weight: 1, Available: -1, Current: 1},
		{Name: "c", Weight: 3, Available: 7},
		{Name: "d", Weight: 0, Available: 5, Current: 4},
		{Name: "e", Weight: 2, Available: 7},
	}
	fns := map[string]func(int64, []Target) Result{
		"Weighted": Weighted, "DynamicWeighted": DynamicWeighted, "Aggregated": Aggregated,
	}
	for name, fn := range fns {
		for _, replicas := range []int64{1, 7, 13, 30} {
			want := fn(replicas, targets)
			permute(targets, func(p []Target) {
				if diff := cmp.Diff(want, fn(replicas, p)); diff != "" {
					t.Fatalf("%s(%d, %v) (-first order +this order):\n%s", name, replicas, p, diff)
				}
			})
		}
	}
}

// permute calls f with every permutation of ts (Heap's algorithm).
func permute(ts []Target, f func([]Target)) {
	p := append([]Target(nil), ts...)
	var gen func(int)
	gen = func(k int) {
		if k <= 1 {
			f(append([]Target(nil), p...))
			return
		}
		for i := 0; i < k-1; i++ {
			gen(k - 1)
			if k%2 == 0 {
				p[i], p[k-1] = p[k-1], p[i]
			} else {
				p[0], p[k-1] = p[k-1], p[0]
			}
		}
		gen(k - 1)
	}
	gen(len(p))
}

func TestTotal(t *testing.T) {
	for name, tc := range map[string]struct {
		r    Result
		want int64
	}{
		"empty":     {Result{}, 0},
		"summed":    {Result{Assignments: as("a", 2, "b", 5)}, 7},
		"unplaced":  {Result{Assignments: as("a", 2), Unplaced: 3, Reason: "x"}, 2},
		"from call": {Weighted(11, []Target{w("a", 1), wa("b", 1, 2)}), 11},
	} {
		if got := tc.r.Total(); got != tc.want {
			t.Errorf("%s: Total() = %d, want %d", name, got, tc.want)
		}
	}
}
