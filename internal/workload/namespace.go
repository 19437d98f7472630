package workload

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// CreateNamespace creates namespace ns in a cluster unless it exists,
// labelled as Flotilla's. created says whether this call created it.
func CreateNamespace(ctx context.Context, c dynamic.Interface, ns, fieldManager string) (created bool, err error) {
	nsc := c.Resource(namespacesGVR)
	if _, err := nsc.Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return false, err
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("v1")
	obj.SetKind("Namespace")
	obj.SetName(ns)
	obj.SetLabels(map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue})
	_, err = nsc.Create(ctx, obj, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}
