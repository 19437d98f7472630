// Package hold parks reports (writes that only tell what is already done)
// while the hub is busy with a burst, and gives them back once it is not:
// the propagation pipeline's first claims and binding status, and the
// scheduler's record of a placement the detector wrote.
package hold

import (
	"sync"
	"time"
)

// MaxDefer is how long a report waits at most for the hub to be less
// busy.
const MaxDefer = time.Minute

// Reports holds back reports while the hub is busy. A reconcile
// that would only report asks hold; while the pipeline is busy its key is
// parked, and costs nothing until release gives it back: all parked keys
// once the pipeline is not busy, or each that waited MaxDefer. A key
// given back reports on its next reconcile, busy or not, so that the
// reports let out at the end of a burst are not held again by the queue
// they themselves fill.
type Reports[T comparable] struct {
	mu      sync.Mutex
	parked  map[T]time.Time
	granted map[T]bool
}

// New returns an empty hold.
func New[T comparable]() *Reports[T] {
	return &Reports[T]{parked: map[T]time.Time{}, granted: map[T]bool{}}
}

// Hold reports whether k's report waits, and parks k if so.
func (r *Reports[T]) Hold(k T, busy bool, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.granted[k] {
		delete(r.granted, k)
		return false
	}
	at, parked := r.parked[k]
	if !busy || parked && now.Sub(at) >= MaxDefer {
		delete(r.parked, k)
		return false
	}
	if !parked {
		r.parked[k] = now
	}
	return true
}

// Release returns the keys to look at again, and lets each report on its
// next reconcile: every parked key when the pipeline is not busy, else
// those that waited MaxDefer.
func (r *Reports[T]) Release(busy bool, now time.Time) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []T
	for k, at := range r.parked {
		if !busy || now.Sub(at) >= MaxDefer {
			out = append(out, k)
			delete(r.parked, k)
			r.granted[k] = true
		}
	}
	return out
}

// IsParked reports whether k waits for a release.
func (r *Reports[T]) IsParked(k T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.parked[k]
	return ok
}

// Forget drops k, whose object is gone.
func (r *Reports[T]) Forget(k T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.parked, k)
	delete(r.granted, k)
}

// Len is how many keys are parked.
func (r *Reports[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parked)
}
