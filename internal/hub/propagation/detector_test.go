package propagation

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestTemplateChanged(t *testing.T) {
	base := func(gen int64) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "namespace": "n", "resourceVersion": "1"},
			"data":     map[string]any{"k": "v"},
		}}
		if gen > 0 {
			u.SetGeneration(gen)
		}
		return u
	}
	claimed := func(u *unstructured.Unstructured, claim string) *unstructured.Unstructured {
		u = u.DeepCopy()
		u.SetAnnotations(map[string]string{workv1alpha1.AnnotationPolicy: claim})
		u.SetResourceVersion("2")
		return u
	}
	for _, gen := range []int64{0, 3} {
		old := base(gen)
		cases := []struct {
			name string
			obj  *unstructured.Unstructured
			want bool
		}{
			{"resync with nothing new", old.DeepCopy(), false},
			{"the detector's own claim", claimed(old, "PropagationPolicy/n/p"), false},
			{"data or spec changed", func() *unstructured.Unstructured {
				u := old.DeepCopy()
				u.Object["data"] = map[string]any{"k": "w"}
				u.SetResourceVersion("2")
				if gen > 0 {
					u.SetGeneration(gen + 1)
				}
				return u
			}(), true},
			{"a label changed", func() *unstructured.Unstructured {
				u := old.DeepCopy()
				u.SetLabels(map[string]string{"a": "b"})
				u.SetResourceVersion("2")
				return u
			}(), true},
		}
		for _, tc := range cases {
			if got := templateChanged(old, tc.obj); got != tc.want {
				t.Errorf("generation %d, %s: templateChanged = %v, want %v", gen, tc.name, got, tc.want)
			}
		}
		// Someone removes or edits the claim: the detector must look again.
		c := claimed(old, "PropagationPolicy/n/p")
		removed := c.DeepCopy()
		removed.SetAnnotations(nil)
		removed.SetResourceVersion("3")
		if !templateChanged(c, removed) {
			t.Errorf("generation %d: removing the claim is not a change", gen)
		}
	}
}
