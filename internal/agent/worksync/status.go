package worksync

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// maxConditionMessage is the API's limit of a condition's message.
const maxConditionMessage = 32000

// statusRequestTimeout bounds a status write to the hub.
const statusRequestTimeout = 15 * time.Second

// workStatus is a Work's status: the last sync's results, with the health
// and counters of each object as the cluster's informers hold it now. prev
// is the status on the hub, whose conditions keep their transition times.
func workStatus(gen int64, results []workv1alpha1.ManifestStatus, prev []metav1.Condition, cached func(objectRef) *unstructured.Unstructured) workv1alpha1.WorkStatus {
	st := workv1alpha1.WorkStatus{ObservedGeneration: gen, Manifests: make([]workv1alpha1.ManifestStatus, len(results))}
	for i, r := range results {
		if r.Name != "" && (r.Applied || r.Reason == workv1alpha1.ReasonSuspended) {
			if live := cached(objectRef{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}); live != nil {
				fillLive(&r, live)
			}
		}
		if r.Health == "" {
			r.Health = workv1alpha1.HealthUnknown
		}
		st.Manifests[i] = r
	}
	st.Conditions = append([]metav1.Condition(nil), prev...)
	meta.SetStatusCondition(&st.Conditions, appliedCondition(st.Manifests, gen))
	meta.SetStatusCondition(&st.Conditions, availableCondition(st.Manifests, gen))
	return st
}

func appliedCondition(ms []workv1alpha1.ManifestStatus, gen int64) metav1.Condition {
	c := metav1.Condition{Type: workv1alpha1.WorkConditionApplied, ObservedGeneration: gen}
	reason := workv1alpha1.ReasonApplied
	var bad []string
	for _, m := range ms {
		if m.Applied && m.Reason == workv1alpha1.ReasonApplied {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s: %s", manifestName(m), m.Message))
		if reason == workv1alpha1.ReasonApplied || m.Reason == workv1alpha1.ReasonConflict {
			reason = m.Reason
		}
	}
	if len(bad) == 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, workv1alpha1.ReasonApplied, fmt.Sprintf("applied %d of %d manifests", len(ms), len(ms))
		return c
	}
	c.Status, c.Reason = metav1.ConditionFalse, reason
	c.Message = truncate(fmt.Sprintf("applied %d of %d manifests; %s", len(ms)-len(bad), len(ms), strings.Join(bad, "; ")), maxConditionMessage)
	return c
}

func availableCondition(ms []workv1alpha1.ManifestStatus, gen int64) metav1.Condition {
	c := metav1.Condition{Type: workv1alpha1.WorkConditionAvailable, ObservedGeneration: gen}
	worst := workv1alpha1.HealthHealthy
	rank := map[string]int{workv1alpha1.HealthHealthy: 0, workv1alpha1.HealthUnknown: 1, workv1alpha1.HealthProgressing: 2, workv1alpha1.HealthUnhealthy: 3}
	var bad []string
	for _, m := range ms {
		if m.Health == workv1alpha1.HealthHealthy {
			continue
		}
		bad = append(bad, manifestName(m)+": "+m.Health)
		if rank[m.Health] > rank[worst] {
			worst = m.Health
		}
	}
	switch worst {
	case workv1alpha1.HealthHealthy:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, workv1alpha1.ReasonHealthy, fmt.Sprintf("%d of %d objects healthy", len(ms), len(ms))
		return c
	case workv1alpha1.HealthUnknown:
		c.Status, c.Reason = metav1.ConditionUnknown, workv1alpha1.ReasonHealthUnknown
	default:
		c.Status, c.Reason = metav1.ConditionFalse, worst
	}
	c.Message = truncate(strings.Join(bad, "; "), maxConditionMessage)
	return c
}

func manifestName(m workv1alpha1.ManifestStatus) string {
	if m.Name == "" {
		return "manifest"
	}
	return objectRef{Kind: m.Kind, Namespace: m.Namespace, Name: m.Name}.String()
}

// sameStatus reports whether two statuses say the same, whatever their
// lastSyncTime and however their raw parts are encoded.
func sameStatus(a, b workv1alpha1.WorkStatus) bool {
	a.LastSyncTime, b.LastSyncTime = nil, nil
	return reflect.DeepEqual(normalized(a), normalized(b))
}

func normalized(s workv1alpha1.WorkStatus) any {
	b, _ := json.Marshal(s)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// writeStatus applies st as the status of the Work name with uid on the
// hub, under the agent's field manager, and returns the Work as stored.
// The uid makes sure a Work deleted and made again under the same name
// never gets the status of its predecessor.
func (e *Engine) writeStatus(ctx context.Context, name string, uid types.UID, st workv1alpha1.WorkStatus) (*workv1alpha1.Work, error) {
	body, err := json.Marshal(map[string]any{
		"apiVersion": workv1alpha1.GroupVersion.String(),
		"kind":       "Work",
		"metadata":   map[string]any{"name": name, "namespace": e.o.Namespace, "uid": uid},
		"status":     st,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, statusRequestTimeout)
	defer cancel()
	force := true
	out := &workv1alpha1.Work{}
	err = e.hub.Patch(types.ApplyPatchType).Namespace(e.o.Namespace).Resource("works").Name(name).SubResource("status").
		VersionedParams(&metav1.PatchOptions{FieldManager: FieldManager, Force: &force}, e.params).
		Body(body).Do(ctx).Into(out)
	return out, err
}
