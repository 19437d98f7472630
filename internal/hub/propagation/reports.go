package propagation

import (
	"sync"
	"time"
)

// maxReportDefer is how long a report (a first claim, a binding's status)
// waits at most for the pipeline to be less busy.
const maxReportDefer = time.Minute

// reportHold holds back reports while the pipeline is busy. A reconcile
// that would only report asks hold; while the pipeline is busy its key is
// parked, and costs nothing until release gives it back: all parked keys
// once the pipeline is not busy, or each that waited maxReportDefer. A key
// given back reports on its next reconcile, busy or not, so that the
// reports let out at the end of a burst are not held again by the queue
// they themselves fill.
type reportHold[T comparable] struct {
	mu      sync.Mutex
	parked  map[T]time.Time
	granted map[T]bool
}

func newReportHold[T comparable]() *reportHold[T] {
	return &reportHold[T]{parked: map[T]time.Time{}, granted: map[T]bool{}}
}

// hold reports whether k's report waits, and parks k if so.
func (r *reportHold[T]) hold(k T, busy bool, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.granted[k] {
		delete(r.granted, k)
		return false
	}
	at, parked := r.parked[k]
	if !busy || parked && now.Sub(at) >= maxReportDefer {
		delete(r.parked, k)
		return false
	}
	if !parked {
		r.parked[k] = now
	}
	return true
}

// release returns the keys to look at again, and lets each report on its
// next reconcile: every parked key when the pipeline is not busy, else
// those that waited maxReportDefer.
func (r *reportHold[T]) release(busy bool, now time.Time) []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []T
	for k, at := range r.parked {
		if !busy || now.Sub(at) >= maxReportDefer {
			out = append(out, k)
			delete(r.parked, k)
			r.granted[k] = true
		}
	}
	return out
}

// isParked reports whether k waits for a release.
func (r *reportHold[T]) isParked(k T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.parked[k]
	return ok
}

// forget drops k, whose object is gone.
func (r *reportHold[T]) forget(k T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.parked, k)
	delete(r.granted, k)
}

// len is how many keys are parked.
func (r *reportHold[T]) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parked)
}

// arrivals counts events in whole seconds: recent is the count of the
// current second and the one before.
type arrivals struct {
	mu        sync.Mutex
	second    int64
	cur, prev int
}

func (a *arrivals) add(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roll(now)
	a.cur++
}

func (a *arrivals) recent(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.roll(now)
	return a.cur + a.prev
}

func (a *arrivals) roll(now time.Time) {
	switch s := now.Unix(); {
	case s == a.second:
	case s == a.second+1:
		a.second, a.prev, a.cur = s, a.cur, 0
	default:
		a.second, a.prev, a.cur = s, 0, 0
	}
}

// pendingSet holds the keys queued at a queue's first priority and not
// looked at since: the queue's own length also counts status refreshes and
// released reports, which are no burst.
type pendingSet[T comparable] struct {
	mu sync.Mutex
	m  map[T]bool
}

func newPendingSet[T comparable]() *pendingSet[T] {
	return &pendingSet[T]{m: map[T]bool{}}
}

// add notes k queued at the first priority.
func (s *pendingSet[T]) add(k T) {
	s.mu.Lock()
	s.m[k] = true
	s.mu.Unlock()
}

// taken notes that a worker looks at k now.
func (s *pendingSet[T]) taken(k T) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// len is how many keys wait.
func (s *pendingSet[T]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
