package hub

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub/bindingmetrics"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/hub/propagation"
	"github.com/flotilla-io/flotilla/internal/member"
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/internal/scheduler"
)

// Options configure the hub.
type Options struct {
	MetricsAddr string
	// Profiling serves Go's pprof profiles under /debug/pprof/ on the
	// metrics endpoint.
	Profiling      bool
	HealthAddr     string
	LeaderElection bool
	Health         clusterhealth.Options
	Propagation    propagation.Options
	// Failover are the scheduler's failover settings.
	Failover scheduler.FailoverOptions
	// UnhealthyFleetThreshold is the share of not-Ready clusters above
	// which failover pauses; zero means the default.
	UnhealthyFleetThreshold float64
	// HubQPS and HubBurst limit the controllers' requests to the hub.
	// Zero means DefaultHubQPS and DefaultHubBurst.
	HubQPS   float32
	HubBurst int
	// Restartable lets a process build the hub's manager more than once
	// (tests that restart the hub in-process): controller names are then
	// not required to be unique in the process.
	Restartable bool
}

// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=flotilla-system,resources=leases,verbs=get;list;watch;create;update;patch;delete

// Defaults of the hub client's rate limit.
const (
	DefaultHubQPS   = 500
	DefaultHubBurst = 1000
)

func metricsOptions(o Options) metricsserver.Options {
	mo := metricsserver.Options{BindAddress: o.MetricsAddr}
	if o.Profiling {
		mo.ExtraHandlers = map[string]http.Handler{
			"/debug/pprof/":        http.HandlerFunc(pprof.Index),
			"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
			"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
			"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
			"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
		}
	}
	return mo
}

// New builds the hub's manager with every controller registered.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	if cfg.QPS == 0 && cfg.Burst == 0 {
		// client-go's default (5 QPS) would throttle every controller.
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = o.HubQPS, o.HubBurst
		if cfg.QPS == 0 {
			cfg.QPS, cfg.Burst = DefaultHubQPS, DefaultHubBurst
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  api.Scheme,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.HealthAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "flotilla-hub",
		LeaderElectionNamespace: member.Namespace,
		Controller:              config.Controller{SkipNameValidation: ptr(o.Restartable)},
		LeaseDuration:           ptr(15 * time.Second),
		RenewDeadline:           ptr(10 * time.Second),
		Cache: cache.Options{
			// No controller reads managedFields: keep them out of the
			// cache, which holds every binding and cluster.
			DefaultTransform: cache.TransformStripManagedFields(),
			// The hub reads Secrets only in its own namespace.
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Namespaces: map[string]cache.Config{member.Namespace: {}}},
			},
		},
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	rec := mgr.GetEventRecorder("flotilla-hub")
	if err := clusterhealth.NewReconciler(mgr.GetClient(), rec, o.Health).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("cluster health controller: %w", err)
	}
	// Pull clusters: the agents' registration and heartbeats.
	if err := registration.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	threshold := o.UnhealthyFleetThreshold
	if threshold == 0 {
		threshold = clusterhealth.DefaultUnhealthyFleetThreshold
	}
	if err := clusterhealth.NewTaintReconciler(mgr.GetClient(), rec, threshold).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("cluster taint controller: %w", err)
	}
	failover := o.Failover
	if failover == (scheduler.FailoverOptions{}) {
		failover = scheduler.DefaultFailoverOptions()
	}
	prop := o.Propagation
	prop.Place = func(spec *workv1alpha1.BindingSpec, clusters []clusterv1alpha1.Cluster) []workv1alpha1.TargetCluster {
		return scheduler.InitialPlacement(spec, clusters, failover.ClusterToleration, time.Now())
	}
	pipeline, err := propagation.SetupWithManager(mgr, cfg, prop)
	if err != nil {
		return nil, fmt.Errorf("propagation pipeline: %w", err)
	}
	if err := scheduler.NewReconciler(mgr.GetClient(), mgr.GetEventRecorder("flotilla-scheduler"),
		scheduler.WithFailover(failover), scheduler.WithDeferStatus(pipeline.Busy)).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if err := bindingmetrics.Register(mgr.GetClient()); err != nil {
		return nil, fmt.Errorf("binding metrics: %w", err)
	}
	return mgr, nil
}

// CheckAPI fails with a clear message when the hub does not serve
// Flotilla's API, so that `flotilla hub` does not start blind.
func CheckAPI(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		return err
	}
	var l clusterv1alpha1.ClusterList
	if err := c.List(ctx, &l, client.Limit(1)); err != nil {
		return fmt.Errorf("the hub at %s does not serve the cluster.flotilla.io API or denies it to this identity (%w); run `flotilla install` against the hub first", cfg.Host, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
