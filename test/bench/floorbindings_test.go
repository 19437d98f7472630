package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// floorGroup is the API group of the floor's stand-in bindings: a copy of
// the ResourceBinding CRD (same schema and validation rules) that no
// controller watches.
const floorGroup = "floor.bench.flotilla.io"

var floorGVR = schema.GroupVersionResource{Group: floorGroup, Version: "v1alpha1", Resource: "resourcebindings"}

// floorWithBindings is the floor of a design with one binding per template
// (DESIGN.md): while n Deployments are created straight into every member,
// n templates are created on the hub and, as each is created, a binding
// like the detector's (owned by the template, through the same CRD schema)
// by another createWorkers workers. Nothing acts on either. It is what a
// propagation controller that cost nothing but its bindings would reach.
func (e *benchEnv) floorWithBindings(ctx context.Context, n int, r *bulkResult) error {
	ns := fmt.Sprintf("floorb-%d", n)
	if err := e.floorNamespace(ctx, ns); err != nil {
		return err
	}
	e.progress("floor with bindings %d: creating %d templates and %d bindings on the hub (nothing acts on them) and %d Deployments in each member at once", n, n, n, n)
	start := time.Now()
	created := make(chan metav1.Object, createWorkers)
	var tmplErr, bindErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(created)
		_, tmplErr = createDeployments(ctx, e.hubCS, ns, n, created)
	})
	var mu sync.Mutex
	for range createWorkers {
		wg.Go(func() {
			for t := range created {
				if err := createFloorBinding(ctx, e.hubDyn, t); err != nil {
					mu.Lock()
					bindErr = errors.Join(bindErr, err)
					mu.Unlock()
				}
			}
		})
	}
	err := e.createInMembers(ctx, ns, n)
	r.FloorBindings = time.Since(start)
	wg.Wait()
	r.FloorBindingsHub = time.Since(start)
	if err := errors.Join(err, tmplErr, bindErr); err != nil {
		return fmt.Errorf("floor with bindings: %w", err)
	}
	e.progress("floor with bindings %d: member objects in %.1fs, templates and bindings in %.1fs; deleting", n, r.FloorBindings.Seconds(), r.FloorBindingsHub.Seconds())
	return e.dropFloorNamespace(ctx, ns)
}

// createFloorBinding creates the stand-in binding of template t: the spec
// the detector writes for the bench's policy, with the scheduler's
// placement on both members already in it.
func createFloorBinding(ctx context.Context, dyn dynamic.Interface, t metav1.Object) error {
	b := &workv1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: t.GetNamespace(), Name: workv1alpha1.BindingName(t.GetName(), "Deployment"),
			Labels:          map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: t.GetName(), UID: t.GetUID()}},
		},
		Spec: workv1alpha1.BindingSpec{
			Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment",
				Namespace: t.GetNamespace(), Name: t.GetName(), UID: string(t.GetUID())},
			Replicas:           1,
			Policy:             workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: t.GetNamespace(), Name: "all-deployments"},
			Placement:          duplicatedPolicy(t.GetNamespace()).Spec.Placement,
			ConflictResolution: policyv1alpha1.ConflictAbort,
		},
	}
	for _, name := range benchMembers {
		b.Spec.Clusters = append(b.Spec.Clusters, workv1alpha1.TargetCluster{Name: name, Replicas: 1})
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion(floorGVR.GroupVersion().String())
	obj.SetKind("ResourceBinding")
	return retryBusy("floor binding "+obj.GetNamespace()+"/"+obj.GetName(), func() error {
		_, err := dyn.Resource(floorGVR).Namespace(t.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{})
		return err
	})
}

// ensureFloorCRD installs the ResourceBinding CRD again under floorGroup
// and waits until it is established. The benchmark installs it when the
// hub starts, so that the API server's work on a new API (discovery, the
// OpenAPI document) is done before anything is measured.
func (e *benchEnv) ensureFloorCRD(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(e.root, "config", "crd", "bases", "work.flotilla.io_resourcebindings.yaml"))
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return fmt.Errorf("ResourceBinding CRD: %w", err)
	}
	crd.Spec.Group = floorGroup
	crd.Name = crd.Spec.Names.Plural + "." + floorGroup
	crd.Spec.Names.Categories = nil
	crd.Spec.Names.ShortNames = nil
	crds := e.hubExt.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install the floor's binding CRD: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the floor's binding CRD %s is not established: %w", crd.Name, err)
	}
	return nil
}
