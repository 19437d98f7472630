package registration

import (
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Option configures the registration controllers.
type Option func(*options)

type options struct {
	clock clock.PassiveClock
}

// WithClock sets the clock, for tests.
func WithClock(c clock.PassiveClock) Option { return func(o *options) { o.clock = c } }

// SetupWithManager registers the approver and the heartbeat controller
// with the hub's manager.
func SetupWithManager(mgr ctrl.Manager, opts ...Option) error {
	rec := mgr.GetEventRecorder("flotilla-registration")
	if err := NewApprover(mgr.GetClient(), mgr.GetAPIReader(), rec, opts...).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("registration approver: %w", err)
	}
	if err := NewHeartbeatReconciler(mgr.GetClient(), rec, opts...).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("cluster heartbeat controller: %w", err)
	}
	return nil
}
