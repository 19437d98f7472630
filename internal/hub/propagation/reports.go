package propagation

import (
	"sync"
	"time"
)

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
