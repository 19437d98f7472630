package worksync

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/workload"
)

// objectRef names an object in the cluster.
type objectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func refOf(o *unstructured.Unstructured) objectRef {
	return objectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

func (r objectRef) gvk() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(r.APIVersion, r.Kind)
}

// key identifies the object whatever the version it is served at.
func (r objectRef) key() string {
	return r.gvk().Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func (r objectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// inventoryEntry is an object a Work may have put in the cluster.
type inventoryEntry struct {
	objectRef
	// BindingUID is the work.flotilla.io/binding-uid label the manifest
	// carried; empty for a dependency. An object is deleted only while it
	// still carries it.
	BindingUID string `json:"bindingUID,omitempty"`
	// AppliedHash is the manifest hash last applied successfully, so that
	// an apply of the same hash is known to correct drift.
	AppliedHash string `json:"appliedHash,omitempty"`
	// Prior is set when the Work's manifest for this object changed
	// binding (the binding was made again, or a dependency became a
	// template) before the new one was applied: the object the previous
	// one put there is still this Work's, to take over or remove.
	Prior *priorEntry `json:"prior,omitempty"`
}

// priorEntry is what an inventory entry recorded before its binding
// changed.
type priorEntry struct {
	BindingUID string `json:"bindingUID,omitempty"`
}

// ownedBefore reports whether live is the object e's prior binding put
// there.
func (e inventoryEntry) ownedBefore(live *unstructured.Unstructured) bool {
	return e.Prior != nil && removable(inventoryEntry{objectRef: e.objectRef, BindingUID: e.Prior.BindingUID}, live)
}

func (e inventoryEntry) String() string { return e.objectRef.String() }

// entryOf is the inventory entry of a manifest, before it is applied.
func entryOf(m *unstructured.Unstructured) inventoryEntry {
	return inventoryEntry{objectRef: refOf(m), BindingUID: m.GetLabels()[workv1alpha1.LabelBindingUID]}
}

// mergeInventory returns old with the entries of manifests added, keeping
// what old knew of those already there: the inventory written before a new
// spec is applied.
func mergeInventory(old []inventoryEntry, manifests []*unstructured.Unstructured) []inventoryEntry {
	out := append([]inventoryEntry(nil), old...)
	at := map[string]int{}
	for i, e := range out {
		at[e.key()] = i
	}
	for _, m := range manifests {
		e := entryOf(m)
		if i, ok := at[e.key()]; ok {
			if out[i].BindingUID != e.BindingUID {
				// Another binding's object now: what was applied before
				// does not count, but the object it left is this Work's
				// until the new manifest is applied.
				prior := out[i].Prior
				if out[i].AppliedHash != "" || prior == nil {
					prior = &priorEntry{BindingUID: out[i].BindingUID}
				}
				out[i] = e
				out[i].Prior = prior
			}
			continue
		}
		at[e.key()] = len(out)
		out = append(out, e)
	}
	return out
}

// parseManifests decodes a Work's manifests. A manifest that cannot be
// decoded is nil, with its error at the same index.
func parseManifests(spec *workv1alpha1.WorkSpec) ([]*unstructured.Unstructured, []error) {
	objs := make([]*unstructured.Unstructured, len(spec.Manifests))
	errs := make([]error, len(spec.Manifests))
	for i, raw := range spec.Manifests {
		b := raw.Raw
		if len(b) == 0 && raw.Object != nil {
			var err error
			if b, err = json.Marshal(raw.Object); err != nil {
				errs[i] = err
				continue
			}
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			errs[i] = fmt.Errorf("manifest %d: %w", i, err)
			continue
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			errs[i] = fmt.Errorf("manifest %d has no apiVersion, kind or name", i)
			continue
		}
		for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink", "deletionTimestamp"} {
			unstructured.RemoveNestedField(u.Object, "metadata", f)
		}
		delete(u.Object, "status")
		objs[i] = u
	}
	return objs, errs
}

// applyOrder returns the indexes of manifests in the order they are
// applied: Namespaces, then CustomResourceDefinitions, then the rest as
// listed.
func applyOrder(manifests []*unstructured.Unstructured) []int {
	rank := func(m *unstructured.Unstructured) int {
		if m == nil {
			return 2
		}
		switch m.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Kind: "Namespace"}:
			return 0
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			return 1
		}
		return 2
	}
	idx := make([]int, len(manifests))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank(manifests[idx[a]]) < rank(manifests[idx[b]]) })
	return idx
}

// action is what the sync does with one manifest.
type action int

const (
	// actionNone: the cluster already holds the manifest.
	actionNone action = iota
	// actionApply: create the object or bring it back to the manifest.
	actionApply
	// actionConflict: someone else's object has the name, and the Work
	// does not allow taking it over.
	actionConflict
)

func (a action) String() string {
	return [...]string{"none", "apply", "conflict"}[a]
}

// decide says what to do with manifest given the object of that name in
// the cluster (nil when there is none).
func decide(manifest, live *unstructured.Unstructured, cr policyv1alpha1.ConflictResolution) action {
	if live == nil {
		return actionApply
	}
	if !owns(manifest, live) && cr != policyv1alpha1.ConflictOverwrite {
		return actionConflict
	}
	if upToDate(manifest, live) {
		return actionNone
	}
	return actionApply
}

// owns reports whether live is the object manifest describes: it carries
// the manifest's binding UID or, for a dependency (no binding UID), it is
// Flotilla's.
func owns(manifest, live *unstructured.Unstructured) bool {
	if uid := manifest.GetLabels()[workv1alpha1.LabelBindingUID]; uid != "" {
		return live.GetLabels()[workv1alpha1.LabelBindingUID] == uid
	}
	return live.GetLabels()[clusterv1alpha1.LabelManagedBy] == clusterv1alpha1.ManagedByValue
}

// removable reports whether live may be deleted as the inventory entry e:
// it is still the object that entry's binding (or its prior one) put
// there.
func removable(e inventoryEntry, live *unstructured.Unstructured) bool {
	return ownedBy(e, live) || e.ownedBefore(live)
}

func ownedBy(e inventoryEntry, live *unstructured.Unstructured) bool {
	l := live.GetLabels()
	if l[clusterv1alpha1.LabelManagedBy] != clusterv1alpha1.ManagedByValue {
		return false
	}
	if e.BindingUID != "" {
		return l[workv1alpha1.LabelBindingUID] == e.BindingUID
	}
	return l[workv1alpha1.LabelDependency] != "" && l[workv1alpha1.LabelBindingUID] == ""
}

// conflictMessage tells the user why a manifest was not applied.
func conflictMessage(m *unstructured.Unstructured, cluster string) string {
	return fmt.Sprintf("%s already exists in cluster %s and this Work's binding did not create it; "+
		"set conflictResolution: Overwrite on the policy to take it over", refOf(m), cluster)
}

// upToDate reports whether live already holds manifest: the rule of push
// execution too.
var upToDate = workload.UpToDate
