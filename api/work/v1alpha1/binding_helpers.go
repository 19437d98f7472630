package v1alpha1

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Binding is what ResourceBinding and ClusterResourceBinding have in
// common, so that controllers handle both with one code path.
//
// +kubebuilder:object:generate=false
type Binding interface {
	client.Object
	GetSpec() *BindingSpec
	GetBindingStatus() *BindingStatus
}

// GetSpec returns the binding's spec.
func (b *ResourceBinding) GetSpec() *BindingSpec { return &b.Spec }

// GetBindingStatus returns the binding's status.
func (b *ResourceBinding) GetBindingStatus() *BindingStatus { return &b.Status }

// GetSpec returns the binding's spec.
func (b *ClusterResourceBinding) GetSpec() *BindingSpec { return &b.Spec }

// GetBindingStatus returns the binding's status.
func (b *ClusterResourceBinding) GetBindingStatus() *BindingStatus { return &b.Status }

// NewBinding returns an empty ResourceBinding when namespaced, else an
// empty ClusterResourceBinding.
func NewBinding(namespaced bool) Binding {
	if namespaced {
		return &ResourceBinding{}
	}
	return &ClusterResourceBinding{}
}

// BindingName is the name of the binding of a template: the template's
// name and its kind in lower case, as NAME-KIND.
func BindingName(name, kind string) string {
	return name + "-" + strings.ToLower(kind)
}

// StatusApplyObject returns the object of a server-side apply of b's
// status: b's identity and status, nothing else. Each controller applies
// only the status fields it owns, under its own field manager, so that
// none overwrites another's and none needs an optimistic lock.
func StatusApplyObject(b Binding, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
	u.SetAPIVersion(GroupVersion.String())
	if _, ok := b.(*ResourceBinding); ok {
		u.SetKind("ResourceBinding")
	} else {
		u.SetKind("ClusterResourceBinding")
	}
	u.SetNamespace(b.GetNamespace())
	u.SetName(b.GetName())
	return u
}
