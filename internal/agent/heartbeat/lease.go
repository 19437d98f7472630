package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// Defaults of the heartbeat.
const (
	DefaultInterval      = 10 * time.Second
	DefaultLeaseDuration = 40 * time.Second
)

// Options configure the heartbeat.
type Options struct {
	// Cluster is the agent's cluster.
	Cluster string
	// Interval is the time between renewals. Default DefaultInterval.
	Interval time.Duration
	// LeaseDuration is how long the hub waits for the next renewal before
	// it marks the cluster Offline. Default DefaultLeaseDuration; it must
	// be longer than Interval.
	LeaseDuration time.Duration
	// Holder identifies this agent process in the lease.
	Holder string
	// Clock is for tests.
	Clock clock.Clock
	// Log receives the heartbeat's messages: failures when they start,
	// when their cause changes, and when they end.
	Log logr.Logger
}

func (o *Options) defaults() error {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.LeaseDuration <= o.Interval {
		return fmt.Errorf("the lease duration (%s) must be longer than the heartbeat interval (%s)", o.LeaseDuration, o.Interval)
	}
	if o.LeaseDuration%time.Second != 0 {
		return fmt.Errorf("the lease duration (%s) must be whole seconds", o.LeaseDuration)
	}
	return nil
}

// Run renews the cluster's Lease on the hub every Interval until ctx
// ends. Failures do not stop it: it logs them and tries again, after 1 s,
// then twice as long each time up to Interval, so that the hub sees the
// cluster again within a second or two of the link coming back.
func Run(ctx context.Context, hub kubernetes.Interface, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	var failing string
	var retry time.Duration
	for {
		err := Renew(ctx, hub, o)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && err.Error() != failing:
			failing = err.Error()
			o.Log.Error(err, "heartbeat failed; retrying", "upTo", o.Interval)
		case err == nil && failing != "":
			failing = ""
			o.Log.Info("heartbeat restored")
		}
		wait := o.Interval
		if err != nil {
			retry = min(max(2*retry, minRetry), o.Interval)
			wait = retry
		} else {
			retry = 0
		}
		t := o.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// minRetry is the first wait after a failed heartbeat.
const minRetry = time.Second

// Renew renews the cluster's Lease once, creating it if needed.
func Renew(ctx context.Context, hub kubernetes.Interface, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Interval)
	defer cancel()
	ns, name := registration.ClusterNamespace(o.Cluster), registration.LeaseName(o.Cluster)
	leases := hub.CoordinationV1().Leases(ns)
	now := metav1.NewMicroTime(o.Clock.Now())
	secs := int32(o.LeaseDuration / time.Second)
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
				clusterv1alpha1.LabelClusterName: o.Cluster,
				clusterv1alpha1.LabelManagedBy:   clusterv1alpha1.ManagedByValue,
			}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &o.Holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		return explain(err, ns, name)
	}
	if err != nil {
		return explain(err, ns, name)
	}
	lease.Spec.HolderIdentity = &o.Holder
	lease.Spec.LeaseDurationSeconds = &secs
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return explain(err, ns, name)
}

// explain says what a failed renewal means for the agent.
func explain(err error, ns, name string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the hub does not accept the agent's certificate (expired?): %w", err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("the hub forbids this agent its lease %s/%s: the cluster was unjoined or its registration revoked (%w)", ns, name, err)
	case apierrors.IsConflict(err):
		return errors.New("the lease changed under the agent; renewing at the next beat")
	}
	return fmt.Errorf("renew lease %s/%s: %w", ns, name, err)
}
