// Package api gathers Flotilla's API groups into one runtime.Scheme, with the
// Kubernetes built-in types that the hub and the CLI also read.
package api

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// Scheme knows every type Flotilla reads or writes on the hub.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(AddToScheme(Scheme))
}

// AddToScheme adds Flotilla's own API groups to s.
func AddToScheme(s *runtime.Scheme) error {
	if err := clusterv1alpha1.AddToScheme(s); err != nil {
		return err
	}
	if err := policyv1alpha1.AddToScheme(s); err != nil {
		return err
	}
	return workv1alpha1.AddToScheme(s)
}
