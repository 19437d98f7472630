package membership

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

// UnjoinOptions control Unjoin.
type UnjoinOptions struct {
	// Timeout bounds the calls to the member. Default 10s.
	Timeout time.Duration
	// Progress receives one line per step; may be nil.
	Progress io.Writer
}

// Unjoin removes a cluster from the fleet. It first removes Flotilla's
// identity from the member (when the member answers), then the Cluster and
// its credentials from the hub. A member that cannot be reached does not
// block the unjoin; the returned warning says what was left there.
func Unjoin(ctx context.Context, hub client.Client, name string, o UnjoinOptions) (warning string, err error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	var c clusterv1alpha1.Cluster
	if err := hub.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("cluster %q is not joined; `flotilla get clusters` lists the joined clusters", name)
		}
		return "", fmt.Errorf("read cluster %q from the hub: %w", name, err)
	}
	if c.Spec.SyncMode == clusterv1alpha1.Push && c.Spec.SecretRef != nil {
		say("removing Flotilla's identity from %s", name)
		if err := cleanMember(ctx, hub, &c, o.Timeout); err != nil {
			warning = fmt.Sprintf("could not clean up member %s (%v); remove namespace %s and clusterrole %s there by hand",
				name, err, member.Namespace, MemberClusterRole)
		}
	}
	if c.Spec.SyncMode == clusterv1alpha1.Pull {
		// Unjoin leaves a cluster's workloads running, as for Push. The
		// agent may see its Works deleted before it loses access: mark them
		// preserved first, so that it keeps what they applied.
		if err := preserveWorks(ctx, hub, name); err != nil {
			return "", err
		}
	}
	say("removing cluster %s from the hub", name)
	if err := hub.Delete(ctx, &c); err != nil && !apierrors.IsNotFound(err) {
		return warning, fmt.Errorf("delete cluster %q: %w", name, err)
	}
	if c.Spec.SecretRef != nil {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}}
		if err := hub.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return warning, fmt.Errorf("delete credentials secret %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	say("cluster %s unjoined", name)
	return warning, nil
}

func cleanMember(ctx context.Context, hub client.Client, c *clusterv1alpha1.Cluster, timeout time.Duration) error {
	var s corev1.Secret
	if err := hub.Get(ctx, client.ObjectKey{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}, &s); err != nil {
		return err
	}
	cfg, err := member.RESTConfig(c, &s)
	if err != nil {
		return err
	}
	cfg.Timeout = timeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The role owns Flotilla's namespace and binding in the member (see
	// ensureMemberIdentity), so this one call, made while the identity still
	// has its rights, removes all of it through the member's garbage
	// collector.
	if err := cs.RbacV1().ClusterRoles().Delete(ctx, MemberClusterRole, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// preserveWorks sets preserveResourcesOnDeletion on every Work of a Pull
// cluster.
func preserveWorks(ctx context.Context, hub client.Client, cluster string) error {
	var works workv1alpha1.WorkList
	if err := hub.List(ctx, &works, client.InNamespace(workv1alpha1.ClusterNamespace(cluster))); err != nil {
		if meta.IsNoMatchError(err) {
			return nil
		}
		return fmt.Errorf("list the works of cluster %q: %w", cluster, err)
	}
	for i := range works.Items {
		w := &works.Items[i]
		if w.Spec.PreserveResourcesOnDeletion {
			continue
		}
		before := w.DeepCopy()
		w.Spec.PreserveResourcesOnDeletion = true
		if err := hub.Patch(ctx, w, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("keep the workloads of work %s/%s in cluster %q: %w", w.Namespace, w.Name, cluster, err)
		}
	}
	return nil
}
