package division

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSeeds are starting inputs for the fuzz tests: replicas, encoded
// targets (see decodeTargets) and a shuffle seed.
func fuzzSeeds(f *testing.F) {
	f.Add(int64(3), []byte{0, 9, 0, 4, 1, 5, 0, 4}, uint64(1))
	f.Add(int64(7), []byte{3, 5, 9, 1, 7, 13, 5, 0, 11, 5, 1, 0}, uint64(2))
	f.Add(int64(0), []byte{1, 4, 4, 0}, uint64(3))
	f.Add(int64(-2), []byte{1, 4, 4, 0}, uint64(3))
	f.Add(int64(1_000_000_000), []byte{2, 2, 0, 0xca, 0x9a, 0x3b, 0, 0, 5, 2, 0xff, 0xc9, 0x9a, 0x3b, 0, 0}, uint64(4))
	f.Add(int64(math.MaxInt64), []byte{9, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 10, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 11, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0}, uint64(5))
	f.Add(int64(20), []byte{1, 9, 13, 9, 2, 5, 21, 5, 3, 0, 0, 4}, uint64(6))
}

// decodeTargets turns fuzz bytes into at most 12 targets with unique names.
// Each target is a name byte, then Weight, Available and Current, each a
// selector byte s and, depending on s%4: 0: (s/4)%8-1, a small value from -1
// to 6; 1: s/4, from 0 to 63; 2: the next 4 bytes as uint32; 3: the next 8
// bytes as int64, of any sign and size.
func decodeTargets(data []byte) []Target {
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	value := func() int64 {
		s, _ := next()
		switch s % 4 {
		case 0:
			return int64(s/4)%8 - 1
		case 1:
			return int64(s / 4)
		case 2:
			var b [4]byte
			n := copy(b[:], data)
			data = data[n:]
			return int64(binary.LittleEndian.Uint32(b[:]))
		default:
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			return int64(binary.LittleEndian.Uint64(b[:]))
		}
	}
	var ts []Target
	for len(ts) < 12 {
		nb, ok := next()
		if !ok {
			break
		}
		// The letter varies the name order; the index keeps names unique.
		name := fmt.Sprintf("%c%d", 'a'+nb%26, len(ts))
		ts = append(ts, Target{Name: name, Weight: value(), Available: value(), Current: value()})
	}
	return ts
}

func FuzzWeighted(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, replicas int64, data []byte, seed uint64) {
		targets := decodeTargets(data)
		res := checkCommon(t, Weighted, replicas, targets, seed)
		if replicas <= 0 {
			return
		}
		got := byName(res)
		allUnknown := true
		for _, tg := range targets {
			if tg.Weight <= 0 && got[tg.Name] != 0 {
				t.Errorf("%s has weight %d but got %d", tg.Name, tg.Weight, got[tg.Name])
			}
			if tg.Weight > 0 && res.Unplaced > 0 && (tg.Available < 0 || got[tg.Name] != tg.Available) {
				t.Errorf("%d unplaced but %s (weight %d) has room: got %d of %d", res.Unplaced, tg.Name, tg.Weight, got[tg.Name], tg.Available)
			}
			if tg.Available >= 0 && tg.Weight > 0 {
				allUnknown = false
			}
		}
		if allUnknown && res.Unplaced == 0 {
			checkExactShares(t, replicas, targets, got)
		}
	})
}

// checkExactShares checks an uncapped weighted division: each cluster gets
// the floor of its exact share or one more, and the ones that get one more
// come first by descending weight, then by name.
func checkExactShares(t *testing.T, replicas int64, targets []Target, got map[string]int64) {
	t.Helper()
	sum := new(big.Int)
	for _, tg := range targets {
		if tg.Weight > 0 {
			sum.Add(sum, big.NewInt(tg.Weight))
		}
	}
	var bonus, plain []Target
	for _, tg := range targets {
		if tg.Weight <= 0 {
			continue
		}
		floor := new(big.Int).Mul(big.NewInt(replicas), big.NewInt(tg.Weight))
		floor.Quo(floor, sum)
		switch d := got[tg.Name] - floor.Int64(); d {
		case 0:
			plain = append(plain, tg)
		case 1:
			bonus = append(bonus, tg)
		default:
			t.Fatalf("%s (weight %d of %s) got %d, floor of share is %s", tg.Name, tg.Weight, sum, got[tg.Name], floor)
		}
	}
	for _, b := range bonus {
		for _, p := range plain {
			if p.Weight > b.Weight || (p.Weight == b.Weight && p.Name < b.Name) {
				t.Errorf("remainder went to %s (weight %d) before %s (weight %d)", b.Name, b.Weight, p.Name, p.Weight)
			}
		}
	}
}

func FuzzDynamicWeighted(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, replicas int64, data []byte, seed uint64) {
		targets := decodeTargets(data)
		res := checkCommon(t, DynamicWeighted, replicas, targets, seed)
		got := byName(res)
		for _, tg := range targets {
			if tg.Available <= 0 && got[tg.Name] != 0 {
				t.Errorf("%s has Available %d but got %d", tg.Name, tg.Available, got[tg.Name])
			}
			if tg.Available > 0 && res.Unplaced > 0 && got[tg.Name] != tg.Available {
				t.Errorf("%d unplaced but %s has room: got %d of %d", res.Unplaced, tg.Name, got[tg.Name], tg.Available)
			}
		}
	})
}

func FuzzAggregated(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, replicas int64, data []byte, seed uint64) {
		targets := decodeTargets(data)
		res := checkCommon(t, Aggregated, replicas, targets, seed)
		got := byName(res)
		partial := 0
		for _, tg := range targets {
			full := tg.Available >= 0 && got[tg.Name] == tg.Available
			if res.Unplaced > 0 && !full {
				t.Errorf("%d unplaced but %s has room: got %d of %d", res.Unplaced, tg.Name, got[tg.Name], tg.Available)
			}
			if got[tg.Name] > 0 && !full {
				partial++
			}
		}
		if partial > 1 {
			t.Errorf("%d clusters partly filled, want at most 1: %+v", partial, res.Assignments)
		}
	})
}

// checkCommon checks what holds for every division of replicas among
// targets and returns the Result.
func checkCommon(t *testing.T, fn func(int64, []Target) Result, replicas int64, targets []Target, seed uint64) Result {
	t.Helper()
	in := slices.Clone(targets)
	res := fn(replicas, targets)
	if diff := cmp.Diff(in, targets); diff != "" {
		t.Fatalf("targets modified (-before +after):\n%s", diff)
	}

	// Determinism under permutation.
	shuffled := slices.Clone(targets)
	rand.New(rand.NewPCG(seed, ^seed)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	if diff := cmp.Diff(res, fn(replicas, shuffled)); diff != "" {
		t.Fatalf("shuffled targets changed the result (-original +shuffled):\n%s", diff)
	}

	if replicas <= 0 {
		if diff := cmp.Diff(Result{}, res); diff != "" {
			t.Fatalf("replicas %d: want empty result (-want +got):\n%s", replicas, diff)
		}
		return res
	}

	// sum(assigned) + Unplaced == replicas, without overflow.
	if res.Unplaced < 0 {
		t.Fatalf("Unplaced = %d", res.Unplaced)
	}
	total := big.NewInt(res.Unplaced)
	for _, a := range res.Assignments {
		total.Add(total, big.NewInt(a.Replicas))
	}
	if total.Cmp(big.NewInt(replicas)) != 0 {
		t.Fatalf("assigned + unplaced = %s, want %d: %+v", total, replicas, res)
	}
	if res.Total()+res.Unplaced != replicas {
		t.Fatalf("Total() %d + Unplaced %d != %d", res.Total(), res.Unplaced, replicas)
	}
	if (res.Reason != "") != (res.Unplaced > 0) {
		t.Fatalf("Reason %q with Unplaced %d", res.Reason, res.Unplaced)
	}

	// Assignments: positive, sorted by name, known clusters, within capacity.
	known := map[string]Target{}
	for _, tg := range targets {
		known[tg.Name] = tg
	}
	for i, a := range res.Assignments {
		if a.Replicas <= 0 {
			t.Errorf("assignment %+v is not positive", a)
		}
		if i > 0 && res.Assignments[i-1].Name >= a.Name {
			t.Errorf("assignments not sorted by name: %+v", res.Assignments)
		}
		tg, ok := known[a.Name]
		if !ok {
			t.Fatalf("assignment to unknown cluster %q", a.Name)
		}
		if tg.Available >= 0 && a.Replicas > tg.Available {
			t.Errorf("%s got %d, above its Available %d", a.Name, a.Replicas, tg.Available)
		}
	}
	return res
}

func byName(r Result) map[string]int64 {
	m := map[string]int64{}
	for _, a := range r.Assignments {
		m[a.Name] = a.Replicas
	}
	return m
}
