package cordon

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// EditFunc returns the taints a cluster should have, given those it has,
// and whether they differ. It may run more than once: again on a fresh read
// whenever someone else changed the cluster in between.
type EditFunc func(cl *clusterv1alpha1.Cluster) (taints []corev1.Taint, changed bool, err error)

// EditTaints reads the cluster named name, asks edit for its new taints and
// writes them with a merge patch that carries the resourceVersion it read.
// When the cluster changed in between (the hub writes the not-ready taint),
// the patch fails with a conflict and EditTaints starts again from a fresh
// read, so that no concurrent edit is lost. It returns edit's changed.
func EditTaints(ctx context.Context, c client.Client, name string, edit EditFunc) (bool, error) {
	var changed bool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cl clusterv1alpha1.Cluster
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
			return clusterError(name, err)
		}
		before := cl.DeepCopy()
		taints, ch, err := edit(&cl)
		if err != nil {
			return err
		}
		changed = ch
		if !ch {
			return nil
		}
		cl.Spec.Taints = taints
		if err := c.Patch(ctx, &cl, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				return err
			}
			return fmt.Errorf("update the taints of cluster %q: %w", name, err)
		}
		return nil
	})
	if apierrors.IsConflict(err) {
		return false, fmt.Errorf("cluster %q kept changing while its taints were updated; try again: %w", name, err)
	}
	return changed, err
}

// clusterError explains a failure to read a cluster.
func clusterError(name string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("cluster %q not found; see flotilla get clusters", name)
	case meta.IsNoMatchError(err):
		return fmt.Errorf("the hub does not serve the cluster.flotilla.io API; install Flotilla on it with `flotilla install`")
	}
	return fmt.Errorf("get cluster %q: %w", name, err)
}
