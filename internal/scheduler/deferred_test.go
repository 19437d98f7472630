package scheduler

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestDeferredRecordsDue: while the hub is busy only the bindings whose
// wait is over are given back; once it is not, every one; none twice.
func TestDeferredRecordsDue(t *testing.T) {
	now := time.Now()
	d := newDeferredRecords()
	early := deferredKey{namespaced: true, key: types.NamespacedName{Namespace: "a", Name: "early"}}
	late := deferredKey{key: types.NamespacedName{Name: "late"}}
	d.park(early, now.Add(time.Second))
	d.park(late, now.Add(time.Minute))
	if got := d.due(true, now); len(got) != 0 {
		t.Fatalf("due while busy before any deadline: %v", got)
	}
	if got := d.due(true, now.Add(time.Second)); len(got) != 1 || got[0] != early {
		t.Fatalf("due while busy at the first deadline: %v, want [%v]", got, early)
	}
	d.forget(late)
	d.park(late, now.Add(time.Minute))
	if got := d.due(false, now.Add(2*time.Second)); len(got) != 1 || got[0] != late {
		t.Fatalf("due once quiet: %v, want [%v]", got, late)
	}
	if d.len() != 0 || len(d.due(false, now.Add(time.Hour))) != 0 {
		t.Fatal("a binding was given back twice")
	}
}
