package propagation

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// TestFinalizeCleansUpOnce: a sync that reads a deleted binding from a
// cache that has not yet seen its finalizer go does not clean it up again.
func TestFinalizeCleansUpOnce(t *testing.T) {
	ctx := context.Background()
	now := metav1.Now()
	b := &workv1alpha1.ResourceBinding{ObjectMeta: metav1.ObjectMeta{
		Namespace: "web", Name: "web-deployment", UID: "uid-1",
		Finalizers: []string{workv1alpha1.FinalizerCleanup}, DeletionTimestamp: &now,
	}}
	patches := 0
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(b.DeepCopy()).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				patches++
				return c.Patch(ctx, obj, patch, opts...)
			},
		}).Build()
	e := newExecution(&Pipeline{client: c})
	e.forgetAfter = 0
	defer e.queue.ShutDown()

	if _, err := e.finalize(ctx, b.DeepCopy(), Mapping{}, nil); err != nil {
		t.Fatal(err)
	}
	if patches != 1 {
		t.Fatalf("finalizer patches after the first cleanup: got %d, want 1", patches)
	}
	// The cache still holds the binding as it was before the patch.
	if _, err := e.finalize(ctx, b.DeepCopy(), Mapping{}, nil); err != nil {
		t.Fatal(err)
	}
	if patches != 1 {
		t.Errorf("finalizer patches after a sync from the stale cache: got %d, want 1", patches)
	}
	// Once the informer has seen it go, it is forgotten: were it back
	// (here: the same object again), it would be cleaned up again.
	e.onBindingDeleted(cache.DeletedFinalStateUnknown{Key: "web/web-deployment", Obj: b.DeepCopy()})
	if err := c.Create(ctx, b.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.finalize(ctx, b.DeepCopy(), Mapping{}, nil); err != nil {
		t.Fatal(err)
	}
	if patches != 2 {
		t.Errorf("finalizer patches after the binding went and came back: got %d, want 2", patches)
	}
}
