package propagation

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/overrides"
)

// +kubebuilder:rbac:groups=work.flotilla.io,resources=works,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create

// Pull clusters: the hub does not reach them. It writes, for each binding
// and Pull cluster, a Work in the cluster's namespace on the hub
// (flotilla-cluster-NAME) holding the rendered manifests, the same ones a
// Push cluster gets; the cluster's agent applies them and reports each
// manifest's result in the Work's status, which the binding's status then
// reflects.

// syncPull brings the Work of binding b for Pull cluster t up to date and
// reports what its agent last said.
func (e *Execution) syncPull(ctx context.Context, b workv1alpha1.Binding, tmpl *unstructured.Unstructured,
	deps []*unstructured.Unstructured, policies []overrides.Policy, t target, prev workv1alpha1.ClusterStatus) workv1alpha1.ClusterStatus {
	cs := workv1alpha1.ClusterStatus{Cluster: t.name, Health: workv1alpha1.HealthUnknown}
	keep := func(reason, msg string) workv1alpha1.ClusterStatus {
		cs = prev
		cs.Cluster, cs.Reason, cs.Message = t.name, reason, msg
		if cs.Health == "" {
			cs.Health = workv1alpha1.HealthUnknown
		}
		return cs
	}
	manifest := render(tmpl, keyOf(b).String(), string(b.GetUID()), t.replicas)
	applied, err := applyOverrides(manifest, t.cluster, policies)
	if err != nil {
		return keep(workv1alpha1.ReasonOverrideFailed, err.Error()+"; the cluster keeps its last good object")
	}
	want, err := e.desiredWork(b, t, manifest, deps)
	if err != nil {
		return keep(workv1alpha1.ReasonApplyFailed, err.Error())
	}
	var have workv1alpha1.Work
	err = e.p.client.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		if err := e.ensureHubNamespace(ctx, want.Namespace); err != nil {
			return keep(workv1alpha1.ReasonApplyFailed, err.Error())
		}
		if err := e.p.client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return keep(workv1alpha1.ReasonApplyFailed, fmt.Sprintf("write the work of cluster %s: %v", t.name, err))
		}
		have = *want
	case err != nil:
		return keep(workv1alpha1.ReasonApplyFailed, err.Error())
	case !sameWorkSpec(&have.Spec, &want.Spec) || !apiequality.Semantic.DeepEqual(have.Labels, want.Labels):
		before := have.DeepCopy()
		have.Spec, have.Labels = want.Spec, want.Labels
		if err := e.p.client.Patch(ctx, &have, client.MergeFrom(before)); err != nil {
			return keep(workv1alpha1.ReasonApplyFailed, fmt.Sprintf("write the work of cluster %s: %v", t.name, err))
		}
	}
	cs = workResult(&have, manifest, deps, prev, t.cluster)
	cs.Overrides = applied
	return cs
}

// desiredWork is the Work that carries b's manifests to Pull cluster t:
// the dependencies first, then the template.
func (e *Execution) desiredWork(b workv1alpha1.Binding, t target, manifest *unstructured.Unstructured, deps []*unstructured.Unstructured) (*workv1alpha1.Work, error) {
	spec := b.GetSpec()
	w := &workv1alpha1.Work{}
	w.Namespace = workv1alpha1.ClusterNamespace(t.name)
	w.Name = workv1alpha1.WorkName(b.GetNamespace(), b.GetName())
	w.Labels = map[string]string{
		clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue,
		workv1alpha1.LabelBindingUID:   string(b.GetUID()),
	}
	kind := "ClusterResourceBinding"
	if b.GetNamespace() != "" {
		kind = "ResourceBinding"
	}
	w.Spec = workv1alpha1.WorkSpec{
		Binding: workv1alpha1.ObjectReference{APIVersion: workv1alpha1.GroupVersion.String(), Kind: kind,
			Namespace: b.GetNamespace(), Name: b.GetName(), UID: string(b.GetUID())},
		ConflictResolution:          spec.ConflictResolution,
		PreserveResourcesOnDeletion: spec.PreserveResourcesOnDeletion,
		SuspendDispatching:          suspended(spec.Suspension, t.name),
	}
	objs := make([]*unstructured.Unstructured, 0, len(deps)+1)
	for _, d := range deps {
		objs = append(objs, render(d, "", "", nil))
	}
	objs = append(objs, manifest)
	if len(objs) > workv1alpha1.MaxWorkManifests {
		return nil, fmt.Errorf("%d manifests (the template and its dependencies) exceed a work's limit of %d", len(objs), workv1alpha1.MaxWorkManifests)
	}
	for _, o := range objs {
		raw, err := o.MarshalJSON()
		if err != nil {
			return nil, err
		}
		w.Spec.Manifests = append(w.Spec.Manifests, runtime.RawExtension{Raw: raw})
	}
	return w, nil
}

// sameWorkSpec compares two Work specs, their manifests as objects rather
// than bytes: the API server may encode what it stored differently.
func sameWorkSpec(a, b *workv1alpha1.WorkSpec) bool {
	if len(a.Manifests) != len(b.Manifests) {
		return false
	}
	ac, bc := *a, *b
	ac.Manifests, bc.Manifests = nil, nil
	if !apiequality.Semantic.DeepEqual(ac, bc) {
		return false
	}
	for i := range a.Manifests {
		var x, y map[string]any
		if json.Unmarshal(a.Manifests[i].Raw, &x) != nil || json.Unmarshal(b.Manifests[i].Raw, &y) != nil ||
			!apiequality.Semantic.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// workResult reads a cluster's result for a binding from its Work.
func workResult(w *workv1alpha1.Work, manifest *unstructured.Unstructured, deps []*unstructured.Unstructured,
	prev workv1alpha1.ClusterStatus, c *clusterv1alpha1.Cluster) workv1alpha1.ClusterStatus {
	cs := workv1alpha1.ClusterStatus{Cluster: c.Name, Health: workv1alpha1.HealthUnknown, Dependencies: prev.Dependencies}
	if w.Status.ObservedGeneration < w.Generation || len(w.Status.Manifests) == 0 {
		cs.Health, cs.Status, cs.Applied = prev.Health, prev.Status, prev.Applied
		cs.Generation, cs.ObservedGeneration = prev.Generation, prev.ObservedGeneration
		cs.Reason = workv1alpha1.ReasonPending
		cs.Message = fmt.Sprintf("waiting for the agent of cluster %s to apply the work", c.Name)
		if off := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionOffline); off != nil && off.Status == metav1.ConditionTrue {
			cs.Message = fmt.Sprintf("cluster %s is offline (%s); its agent applies the work when it is back", c.Name, off.Message)
		}
		return cs
	}
	find := func(o *unstructured.Unstructured) *workv1alpha1.ManifestStatus {
		for i := range w.Status.Manifests {
			m := &w.Status.Manifests[i]
			if m.APIVersion == o.GetAPIVersion() && m.Kind == o.GetKind() && m.Namespace == o.GetNamespace() && m.Name == o.GetName() {
				return m
			}
		}
		return nil
	}
	cs.Dependencies = nil
	for _, d := range deps {
		if m := find(d); m != nil && m.Applied {
			cs.Dependencies = append(cs.Dependencies, d.GetKind()+"/"+d.GetName())
		} else if m != nil {
			cs.Reason, cs.Message = m.Reason, fmt.Sprintf("dependency %s/%s: %s", d.GetKind(), d.GetName(), m.Message)
		}
	}
	m := find(manifest)
	if m == nil {
		cs.Reason, cs.Message = workv1alpha1.ReasonPending, "the agent has not reported the template yet"
		return cs
	}
	cs.Applied, cs.Health = m.Applied, m.Health
	cs.Generation, cs.ObservedGeneration, cs.Status = m.Generation, m.ObservedGeneration, m.Status
	if cs.Health == "" {
		cs.Health = workv1alpha1.HealthUnknown
	}
	switch {
	case !m.Applied:
		cs.Reason, cs.Message = m.Reason, m.Message
		if cs.Reason == "" {
			cs.Reason = workv1alpha1.ReasonApplyFailed
		}
	case cs.Reason == "":
		cs.Reason = workv1alpha1.ReasonApplied
	}
	return cs
}

// ensureHubNamespace creates a Pull cluster's namespace on the hub when
// registration did not.
func (e *Execution) ensureHubNamespace(ctx context.Context, name string) error {
	var ns corev1.Namespace
	if err := e.p.client.Get(ctx, types.NamespacedName{Name: name}, &ns); err == nil {
		return nil
	}
	ns.Name = name
	ns.Labels = map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}
	if err := e.p.client.Create(ctx, &ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s on the hub: %w", name, err)
	}
	return nil
}

// removeWork deletes the Work of binding b for Pull cluster c; its agent
// removes the objects (unless the work says to preserve them).
func (e *Execution) removeWork(ctx context.Context, b workv1alpha1.Binding, c *clusterv1alpha1.Cluster) error {
	w := &workv1alpha1.Work{}
	w.Namespace = workv1alpha1.ClusterNamespace(c.Name)
	w.Name = workv1alpha1.WorkName(b.GetNamespace(), b.GetName())
	if err := e.p.client.Delete(ctx, w); err != nil && !apierrors.IsNotFound(err) {
		return &clusterError{err: fmt.Errorf("delete the work of cluster %s: %w", c.Name, err)}
	}
	return nil
}

// workOwner is the binding a Work belongs to.
func workOwner(w *workv1alpha1.Work) (bindingKey, bool) {
	r := w.Spec.Binding
	if r.Name == "" {
		return bindingKey{}, false
	}
	return bindingKey{Namespaced: r.Kind == "ResourceBinding", Namespace: r.Namespace, Name: r.Name}, true
}
