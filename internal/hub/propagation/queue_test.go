package propagation

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hold"
)

// recordingQueue records what is added to a priority queue, and with which
// priority.
type recordingQueue struct {
	priorityqueue.PriorityQueue[bindingKey]
	added []queued
}

type queued struct {
	key      bindingKey
	priority int
	later    bool
}

func (q *recordingQueue) Add(k bindingKey) { q.added = append(q.added, queued{key: k}) }

func (q *recordingQueue) AddWithOpts(o priorityqueue.AddOpts, ks ...bindingKey) {
	for _, k := range ks {
		p := 0
		if o.Priority != nil {
			p = *o.Priority
		}
		q.added = append(q.added, queued{key: k, priority: p, later: o.After > 0})
	}
}

// TestMemberEventsQueueTheirBinding: a member object that is new or only
// changed status waits behind the bindings with objects to apply; one
// that someone changed or deleted is looked at as soon as a worker is
// free.
func TestMemberEventsQueueTheirBinding(t *testing.T) {
	obj := func(generation int64, replicas int64) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{
				"namespace": "shop", "name": "web", "generation": generation,
				"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop/web-deployment"},
			},
			"status": map[string]any{"readyReplicas": replicas},
		}}
		return u
	}
	key := bindingKey{Namespaced: true, Namespace: "shop", Name: "web-deployment"}
	refresh := queued{key: key, priority: statusPriority, later: true}
	now := queued{key: key}
	for name, tc := range map[string]struct {
		obj, old *unstructured.Unstructured
		gone     bool
		want     queued
	}{
		"created (by execution, most often)": {obj: obj(1, 0), want: refresh},
		"status moved":                       {obj: obj(1, 1), old: obj(1, 0), want: refresh},
		"spec edited in the member":          {obj: obj(2, 1), old: obj(1, 1), want: now},
		"deleted in the member":              {obj: obj(1, 1), gone: true, want: now},
	} {
		t.Run(name, func(t *testing.T) {
			q := &recordingQueue{}
			e := &Execution{queue: q, reports: hold.New[bindingKey](), pending: newPendingSet[bindingKey]()}
			e.onMemberObject("member-1", tc.obj, tc.old, tc.gone)
			if diff := cmp.Diff([]queued{tc.want}, q.added, cmp.AllowUnexported(queued{}, bindingKey{})); diff != "" {
				t.Fatalf("queued (-want +got):\n%s", diff)
			}
			// Only first-priority work is a backlog that makes the
			// pipeline busy; a worker taking the binding clears it.
			if want := map[bool]int{true: 0, false: 1}[tc.want == refresh]; e.pending.len() != want {
				t.Fatalf("backlog %d, want %d", e.pending.len(), want)
			}
			e.pending.taken(key)
			if e.pending.len() != 0 {
				t.Fatalf("backlog %d after the binding was taken", e.pending.len())
			}
			// While the binding's report is held, a status refresh waits
			// for its release; a change to the object does not.
			q.added = nil
			e.reports.Hold(key, true, time.Now())
			e.onMemberObject("member-1", tc.obj, tc.old, tc.gone)
			want := []queued{tc.want}
			if tc.want == refresh {
				want = nil
			}
			if diff := cmp.Diff(want, q.added, cmp.AllowUnexported(queued{}, bindingKey{})); diff != "" {
				t.Fatalf("queued while held (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTemplateEventsQueueTheirBinding: a template's own binding is looked
// at when the template changes; a template that appears or goes comes back
// through its binding (which the detector creates or deletes), so it is
// no work for execution, and no backlog that makes the pipeline busy.
func TestTemplateEventsQueueTheirBinding(t *testing.T) {
	tmpl := func(generation int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"namespace": "shop", "name": "web", "generation": generation,
				"resourceVersion": fmt.Sprint(generation)},
		}}
	}
	m := Mapping{Namespaced: true}
	key := bindingKey{Namespaced: true, Namespace: "shop", Name: "web-deployment"}
	for name, tc := range map[string]struct {
		obj, old *unstructured.Unstructured
		want     []queued
	}{
		"created or gone": {obj: tmpl(1)},
		"spec changed":    {obj: tmpl(2), old: tmpl(1), want: []queued{{key: key}}},
		"nothing changed": {obj: tmpl(1), old: tmpl(1)},
	} {
		t.Run(name, func(t *testing.T) {
			q := &recordingQueue{}
			e := &Execution{queue: q, pending: newPendingSet[bindingKey](), deps: map[string]map[bindingKey]bool{}}
			e.onTemplate(m, tc.obj, tc.old)
			if diff := cmp.Diff(tc.want, q.added, cmp.AllowUnexported(queued{}, bindingKey{})); diff != "" {
				t.Fatalf("queued (-want +got):\n%s", diff)
			}
			if e.pending.len() != len(tc.want) {
				t.Fatalf("backlog %d, want %d", e.pending.len(), len(tc.want))
			}
		})
	}
}

// TestMemberCacheKeepsOnlyTheCreateEntry: of a member object's
// managedFields the cache keeps only the entry of Flotilla's create, which
// execution upgrades before it next applies the object.
func TestMemberCacheKeepsOnlyTheCreateEntry(t *testing.T) {
	entry := func(manager, operation, subresource string) map[string]any {
		e := map[string]any{"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:metadata": map[string]any{"f:labels": map[string]any{}}}}
		if subresource != "" {
			e["subresource"] = subresource
		}
		return e
	}
	obj := func(entries ...any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "managedFields": entries},
		}}
	}
	created := obj(entry(FieldManager, "Update", ""), entry(FieldManager, "Apply", ""),
		entry("kube-controller-manager", "Update", "status"), entry(FieldManager, "Update", "status"), entry("kubectl", "Update", ""))
	out, err := stripManagedFieldsButCreate(created)
	if err != nil {
		t.Fatal(err)
	}
	u := out.(*unstructured.Unstructured)
	if !createdByFlotilla(u) || len(u.GetManagedFields()) != 1 || u.GetManagedFields()[0].FieldsV1 != nil {
		t.Fatalf("kept %+v, want a marker of Flotilla's create alone", u.GetManagedFields())
	}
	out, _ = stripManagedFieldsButCreate(obj(entry(FieldManager, "Apply", ""), entry("kubectl", "Update", "")))
	if u := out.(*unstructured.Unstructured); createdByFlotilla(u) || u.Object["metadata"].(map[string]any)["managedFields"] != nil {
		t.Fatalf("kept %+v of an applied object, want nothing", u.GetManagedFields())
	}
}
