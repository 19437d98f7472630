package hold

import (
	"slices"
	"testing"
	"time"
)

func TestReportHold(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	r := New[string]()

	if r.Hold("quiet", false, t0) {
		t.Fatal("a report was held while the pipeline was not busy")
	}
	if !r.Hold("a", true, t0) || !r.Hold("b", true, t0.Add(30*time.Second)) {
		t.Fatal("a report was not held while the pipeline was busy")
	}
	// Held again by later reconciles (a status refresh), from its first
	// parking: not a minute from each.
	if !r.Hold("a", true, t0.Add(59*time.Second)) {
		t.Fatal("a was let out before it waited MaxDefer")
	}
	if got := r.Release(true, t0.Add(59*time.Second)); len(got) != 0 {
		t.Fatalf("released %v while busy and before the deadline", got)
	}
	// Still busy, but a has waited a minute: it goes, b stays.
	if got := r.Release(true, t0.Add(time.Minute)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("released %v, want [a]", got)
	}
	if r.Hold("a", true, t0.Add(time.Minute)) {
		t.Fatal("a released key was held again")
	}
	// Granted once only: a later report of a waits like any other.
	if !r.Hold("a", true, t0.Add(2*time.Minute)) {
		t.Fatal("a key's grant outlived its report")
	}
	// The burst passes: everything parked goes, and reports even if the
	// queue the release fills makes the pipeline busy again.
	got := r.Release(false, t0.Add(2*time.Minute))
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("released %v, want [a b]", got)
	}
	if r.Hold("a", true, t0.Add(2*time.Minute)) || r.Hold("b", true, t0.Add(2*time.Minute)) {
		t.Fatal("a released key was held again")
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("%d keys still parked", n)
	}

	// A parked key whose object went is forgotten.
	r.Hold("gone", true, t0)
	r.Forget("gone")
	if n := r.Len(); n != 0 || len(r.granted) != 0 {
		t.Fatalf("forget left %d parked, %d granted", n, len(r.granted))
	}
}
