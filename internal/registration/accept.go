package registration

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// pendingCluster returns a Pull cluster whose registration waits for
// acceptance.
func pendingCluster(ctx context.Context, c client.Client, name string) (*clusterv1alpha1.Cluster, error) {
	var cl clusterv1alpha1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("no cluster %q waits for acceptance; `flotilla get clusters` lists the registered ones", name)
		}
		return nil, fmt.Errorf("read cluster %q: %w", name, err)
	}
	switch cl.Annotations[AnnotationAcceptance] {
	case AcceptancePending:
		return &cl, nil
	case AcceptanceAccepted:
		return nil, fmt.Errorf("cluster %q is already accepted", name)
	}
	return nil, fmt.Errorf("cluster %q does not wait for acceptance: it was registered with a token that needs none, or joined in Push mode", name)
}

// Accept gives a registration that waits for it its second approval: the
// approver then approves the agent's certificate.
func Accept(ctx context.Context, c client.Client, name string) error {
	cl, err := pendingCluster(ctx, c, name)
	if err != nil {
		return err
	}
	before := cl.DeepCopy()
	cl.Annotations[AnnotationAcceptance] = AcceptanceAccepted
	// The lock makes two concurrent accept/reject calls fail one.
	if err := c.Patch(ctx, cl, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("accept cluster %q: %w", name, err)
	}
	return nil
}

// Reject refuses a registration that waits for acceptance: it denies the
// agent's pending certificate requests and removes the Cluster.
func Reject(ctx context.Context, c client.Client, name string) error {
	cl, err := pendingCluster(ctx, c, name)
	if err != nil {
		return err
	}
	var l certificatesv1.CertificateSigningRequestList
	if err := c.List(ctx, &l); err != nil {
		return fmt.Errorf("list certificate signing requests: %w", err)
	}
	for i := range l.Items {
		csr := &l.Items[i]
		if cluster, _ := agentCluster(csr); cluster != name || csrFinished(csr) {
			continue
		}
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: ReasonRejected,
			Message:        fmt.Sprintf("an administrator rejected the registration of cluster %s", name),
			LastUpdateTime: metav1.NewTime(time.Now()),
		})
		if err := c.SubResource("approval").Update(ctx, csr); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deny CSR %s: %w", csr.Name, err)
		}
	}
	if err := c.Delete(ctx, cl, client.Preconditions{UID: &cl.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return nil
}
