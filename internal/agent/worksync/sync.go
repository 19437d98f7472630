package worksync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// maxMessage is the API's limit of a manifest's status message.
const maxMessage = 4096

// syncer brings a cluster in line with Works, one record at a time. It
// holds no state of its own: the record says what to apply and what may
// be removed.
type syncer struct {
	cluster     cluster
	clusterName string
	metrics     *metrics
}

// outcome is the result of syncing one record.
type outcome struct {
	// results are the manifests' results, in spec order.
	results []workv1alpha1.ManifestStatus
	// inventory is what the record's inventory becomes.
	inventory []inventoryEntry
	// conflict is set when a manifest was refused under Abort.
	conflict bool
	// err is the first failure a retry may fix.
	err error
}

// inUseFunc reports whether another Work's current spec names an object.
type inUseFunc func(objectRef) bool

// sync applies rec's manifests and removes what rec no longer names. It
// never removes anything rec's inventory does not list, nor an object that
// lost the labels its entry recorded.
func (s *syncer) sync(ctx context.Context, rec *record, inUse inUseFunc) outcome {
	manifests, errs := parseManifests(&rec.Spec)
	out := outcome{results: make([]workv1alpha1.ManifestStatus, len(manifests))}
	known := map[string]inventoryEntry{}
	for _, e := range rec.Inventory {
		known[e.key()] = e
	}
	current := make([]inventoryEntry, len(manifests))
	for i, m := range manifests {
		r := &out.results[i]
		if m == nil {
			r.Applied, r.Reason, r.Message = false, workv1alpha1.ReasonApplyFailed, truncate(errs[i].Error(), maxMessage)
			continue
		}
		ref := refOf(m)
		r.APIVersion, r.Kind, r.Namespace, r.Name = ref.APIVersion, ref.Kind, ref.Namespace, ref.Name
		current[i] = entryOf(m)
		if k, ok := known[ref.key()]; ok && k.BindingUID == current[i].BindingUID {
			current[i].AppliedHash, current[i].Prior = k.AppliedHash, k.Prior
		}
	}

	if rec.Spec.SuspendDispatching {
		for i, m := range manifests {
			if m == nil {
				continue
			}
			r := &out.results[i]
			live, err := s.cluster.get(ctx, refOf(m))
			if err != nil {
				r.Reason, r.Message = workv1alpha1.ReasonApplyFailed, truncate(err.Error(), maxMessage)
				continue
			}
			r.Applied, r.Reason = live != nil && upToDate(m, live), workv1alpha1.ReasonSuspended
			r.Message = "dispatching is suspended: the cluster keeps what it runs"
			fillLive(r, live)
		}
		// Nothing is applied or removed while suspended.
		out.inventory = rec.Inventory
		return out
	}

	for _, i := range applyOrder(manifests) {
		m := manifests[i]
		if m == nil {
			continue
		}
		r := &out.results[i]
		hash := m.GetAnnotations()[workv1alpha1.AnnotationManifestHash]
		live, err := s.cluster.get(ctx, refOf(m))
		if err != nil {
			r.Reason, r.Message = workv1alpha1.ReasonApplyFailed, truncate(err.Error(), maxMessage)
			out.err = firstErr(out.err, err)
			continue
		}
		cr := rec.Spec.ConflictResolution
		if live != nil && current[i].ownedBefore(live) {
			// This Work's own object, from its previous binding.
			cr = policyv1alpha1.ConflictOverwrite
		}
		switch decide(m, live, cr) {
		case actionConflict:
			s.metrics.applies.WithLabelValues("conflict").Inc()
			r.Reason, r.Message = workv1alpha1.ReasonConflict, conflictMessage(m, s.clusterName)
			out.conflict = true
			continue
		case actionApply:
			start := time.Now()
			applied, err := s.cluster.apply(ctx, m)
			s.metrics.applyDuration.Observe(time.Since(start).Seconds())
			if err != nil {
				s.metrics.applies.WithLabelValues("error").Inc()
				r.Reason = workv1alpha1.ReasonApplyFailed
				r.Message = truncate(fmt.Sprintf("apply %s: %v", refOf(m), err), maxMessage)
				out.err = firstErr(out.err, err)
				continue
			}
			s.metrics.applies.WithLabelValues("success").Inc()
			if hash != "" && current[i].AppliedHash == hash {
				// The cluster held this very manifest before: someone
				// changed or deleted it there.
				cause := "changed"
				if live == nil {
					cause = "deleted"
				}
				s.metrics.driftCorrections.WithLabelValues(cause).Inc()
			}
			live = applied
		}
		current[i].AppliedHash, current[i].Prior = hash, nil
		r.Applied, r.Reason, r.Message = true, workv1alpha1.ReasonApplied, ""
		fillLive(r, live)
	}

	// Keep every current manifest's entry; prune the others.
	keep := map[string]bool{}
	for i, m := range manifests {
		if m != nil {
			keep[current[i].key()] = true
			out.inventory = append(out.inventory, current[i])
		}
	}
	for _, e := range rec.Inventory {
		if keep[e.key()] {
			continue
		}
		if rec.Spec.PreserveResourcesOnDeletion || inUse(e.objectRef) {
			// Left running, or another Work's now: forget it.
			continue
		}
		if err := s.remove(ctx, e); err != nil {
			out.inventory = append(out.inventory, e)
			out.err = firstErr(out.err, err)
		}
	}
	return out
}

// removeAll removes the objects of a Work the hub deleted, and returns the
// entries it could not remove yet.
func (s *syncer) removeAll(ctx context.Context, rec *record, inUse inUseFunc) ([]inventoryEntry, error) {
	if rec.Spec.PreserveResourcesOnDeletion || rec.Spec.SuspendDispatching {
		return nil, nil
	}
	var left []inventoryEntry
	var first error
	for _, e := range rec.Inventory {
		if inUse(e.objectRef) {
			continue
		}
		if err := s.remove(ctx, e); err != nil {
			left = append(left, e)
			first = firstErr(first, err)
		}
	}
	return left, first
}

// remove deletes the object of an inventory entry if it is still the one
// the entry's binding put there.
func (s *syncer) remove(ctx context.Context, e inventoryEntry) error {
	live, err := s.cluster.get(ctx, e.objectRef)
	if err != nil {
		if meta.IsNoMatchError(err) {
			// The kind is not served any more: nothing of it is left.
			return nil
		}
		return err
	}
	if live == nil || !removable(e, live) {
		return nil
	}
	if err := s.cluster.delete(ctx, e.objectRef, live.GetUID()); err != nil {
		s.metrics.deletes.WithLabelValues("error").Inc()
		return err
	}
	s.metrics.deletes.WithLabelValues("success").Inc()
	return nil
}

// fillLive copies what the cluster reports of its object into r.
func fillLive(r *workv1alpha1.ManifestStatus, live *unstructured.Unstructured) {
	if live == nil {
		r.Health, r.Generation, r.ObservedGeneration, r.Status = workv1alpha1.HealthUnknown, 0, 0, nil
		return
	}
	r.Health = objectHealth(live)
	r.Generation = live.GetGeneration()
	r.ObservedGeneration, _, _ = unstructured.NestedInt64(live.Object, "status", "observedGeneration")
	r.Status = nil
	if st := trimmedStatus(live); st != nil {
		raw, _ := json.Marshal(st)
		r.Status = &runtime.RawExtension{Raw: raw}
	}
}

func firstErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
