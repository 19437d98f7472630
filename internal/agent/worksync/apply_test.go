package worksync

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestDecide(t *testing.T) {
	manifest := makeConfigMap("shop", "web").binding("b1").obj()
	drifted := manifest.DeepCopy()
	drifted.Object["data"] = map[string]any{"k": "edited"}
	extra := manifest.DeepCopy()
	extra.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "flotilla", workv1alpha1.LabelBindingUID: "b1", "added": "by-someone"})
	newer := makeConfigMap("shop", "web").binding("b1").data("v2").obj()
	otherBinding := makeConfigMap("shop", "web").binding("b0").obj()
	foreign := makeConfigMap("shop", "web").unmanaged().obj()
	dep := makeConfigMap("shop", "cfg").dependency().obj()
	depLive := makeConfigMap("shop", "cfg").dependency().data("old").obj()

	cases := map[string]struct {
		manifest, live *unstructured.Unstructured
		cr             policyv1alpha1.ConflictResolution
		want           action
	}{
		"absent: create":                                  {manifest, nil, policyv1alpha1.ConflictAbort, actionApply},
		"the same: nothing":                               {manifest, manifest, policyv1alpha1.ConflictAbort, actionNone},
		"a label added in the cluster: nothing":           {manifest, extra, policyv1alpha1.ConflictAbort, actionNone},
		"a field changed in the cluster: apply":           {manifest, drifted, policyv1alpha1.ConflictAbort, actionApply},
		"a new manifest: apply":                           {newer, manifest, policyv1alpha1.ConflictAbort, actionApply},
		"someone else's, Abort: conflict":                 {manifest, foreign, policyv1alpha1.ConflictAbort, actionConflict},
		"someone else's, no resolution set: conflict":     {manifest, foreign, "", actionConflict},
		"another binding's, Abort: conflict":              {manifest, otherBinding, policyv1alpha1.ConflictAbort, actionConflict},
		"someone else's, Overwrite: apply":                {manifest, foreign, policyv1alpha1.ConflictOverwrite, actionApply},
		"a dependency Flotilla manages: apply":            {dep, depLive, policyv1alpha1.ConflictAbort, actionApply},
		"a dependency someone else made, Abort: conflict": {dep, makeConfigMap("shop", "cfg").unmanaged().obj(), policyv1alpha1.ConflictAbort, actionConflict},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := decide(tc.manifest, tc.live, tc.cr); got != tc.want {
				t.Errorf("decide = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRemovable(t *testing.T) {
	entry := inventoryEntry{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web"}, BindingUID: "b1"}
	depEntry := inventoryEntry{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "cfg"}}
	cases := map[string]struct {
		entry inventoryEntry
		live  *unstructured.Unstructured
		want  bool
	}{
		"the binding's object":                     {entry, makeConfigMap("shop", "web").binding("b1").obj(), true},
		"another binding's object now":             {entry, makeConfigMap("shop", "web").binding("b2").obj(), false},
		"someone else's object of the same name":   {entry, makeConfigMap("shop", "web").unmanaged().obj(), false},
		"a dependency":                             {depEntry, makeConfigMap("shop", "cfg").dependency().obj(), true},
		"a dependency that became a template":      {depEntry, makeConfigMap("shop", "cfg").binding("b3").obj(), false},
		"an unlabelled object named as dependency": {depEntry, makeConfigMap("shop", "cfg").unmanaged().obj(), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := removable(tc.entry, tc.live); got != tc.want {
				t.Errorf("removable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeInventory(t *testing.T) {
	old := []inventoryEntry{
		{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}, BindingUID: "b1", AppliedHash: "h1"},
		{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "b"}, BindingUID: "b1", AppliedHash: "h2"},
	}
	got := mergeInventory(old, []*unstructured.Unstructured{
		makeConfigMap("shop", "b").binding("b1").obj(),
		makeConfigMap("shop", "c").binding("b1").obj(),
		makeConfigMap("shop", "a").binding("b9").obj(),
	})
	want := []inventoryEntry{
		{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "a"}, BindingUID: "b9", Prior: &priorEntry{BindingUID: "b1"}},
		{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "b"}, BindingUID: "b1", AppliedHash: "h2"},
		{objectRef: objectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "c"}, BindingUID: "b1"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(inventoryEntry{})); diff != "" {
		t.Errorf("mergeInventory (-want +got):\n%s", diff)
	}
}

func TestApplyOrder(t *testing.T) {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	cm := makeConfigMap("shop", "a").obj()
	got := applyOrder([]*unstructured.Unstructured{cm, crd, nil, ns, cm})
	if diff := cmp.Diff([]int{3, 1, 0, 2, 4}, got); diff != "" {
		t.Errorf("applyOrder (-want +got):\n%s", diff)
	}
}

func TestParseManifestsDropsServerFields(t *testing.T) {
	m := makeConfigMap("shop", "a").obj()
	m.SetResourceVersion("7")
	m.SetUID("u")
	m.Object["status"] = map[string]any{"x": int64(1)}
	w := makeWork("w", "u", 1, m)
	w.Spec.Manifests = append(w.Spec.Manifests, w.Spec.Manifests[0])
	w.Spec.Manifests[1].Raw = []byte(`{"kind":"ConfigMap"}`)
	got, errs := parseManifests(&w.Spec)
	if errs[0] != nil || got[0].GetResourceVersion() != "" || got[0].GetUID() != "" || got[0].Object["status"] != nil {
		t.Errorf("first manifest: %v, %v", got[0], errs[0])
	}
	if got[1] != nil || errs[1] == nil {
		t.Errorf("a manifest without apiVersion or name was accepted: %v", got[1])
	}
}
