// Package hub implements `flotilla hub`, the hub's controllers as a daemon.
package hub

import (
	"flag"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/hub/propagation"
	"github.com/flotilla-io/flotilla/internal/scheduler"
)

// NewCommand returns `flotilla hub`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	o := hub.Options{Health: clusterhealth.DefaultOptions(), Propagation: propagation.DefaultOptions(), Failover: scheduler.DefaultFailoverOptions()}
	zo := zap.Options{}
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run the hub's controllers (a daemon)",
		Long: `Run every hub controller in one leader-elected process against the hub's
kube-apiserver. It serves Prometheus metrics on --metrics-bind-address and
health probes (/healthz, /readyz) on --health-probe-bind-address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zo)))
			if o.Health.FailureThreshold < 1 {
				return fmt.Errorf("--cluster-failure-threshold must be at least 1")
			}
			if o.Failover.EvictionRate <= 0 || o.Failover.EvictionBurst < 1 {
				return fmt.Errorf("--eviction-rate must be above 0 and --eviction-burst at least 1")
			}
			if o.UnhealthyFleetThreshold <= 0 || o.UnhealthyFleetThreshold > 1 {
				return fmt.Errorf("--unhealthy-fleet-threshold must be in (0, 1]; 1 never pauses failover")
			}
			if o.Failover.ClusterToleration < 0 {
				return fmt.Errorf("--cluster-failover-toleration must not be negative")
			}
			cfg, err := conn.RESTConfig()
			if err != nil {
				return err
			}
			cfg.UserAgent = "flotilla-hub"
			// The kubeconfig loader sets client-go's conservative limits;
			// the hub's own flags decide.
			cfg.QPS, cfg.Burst = o.HubQPS, o.HubBurst
			ctx := ctrl.SetupSignalHandler()
			if err := hub.CheckAPI(ctx, cfg); err != nil {
				return err
			}
			mgr, err := hub.New(cfg, o)
			if err != nil {
				return err
			}
			return mgr.Start(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", "127.0.0.1:8080", "address of the Prometheus metrics endpoint (0 disables it)")
	f.BoolVar(&o.Profiling, "profiling", false, "serve Go pprof profiles under /debug/pprof/ on the metrics endpoint")
	f.StringVar(&o.HealthAddr, "health-probe-bind-address", "127.0.0.1:8081", "address of the health probe endpoint")
	f.BoolVar(&o.LeaderElection, "leader-elect", true, "elect a leader among hub replicas (lease flotilla-system/flotilla-hub)")
	f.DurationVar(&o.Health.ProbeInterval, "cluster-probe-interval", o.Health.ProbeInterval, "time between health probes of a healthy member")
	f.DurationVar(&o.Health.ProbeTimeout, "cluster-probe-timeout", o.Health.ProbeTimeout, "timeout of one health probe")
	f.Int32Var(&o.Health.FailureThreshold, "cluster-failure-threshold", o.Health.FailureThreshold, "consecutive failed probes that turn a member's Ready condition False")
	f.DurationVar(&o.Health.MaxBackoff, "cluster-probe-max-backoff", o.Health.MaxBackoff, "longest interval between probes of a member that is not ready")
	f.DurationVar(&o.Health.StatusRefresh, "cluster-status-refresh", time.Minute, "how often a member's lastProbeTime is written when nothing else changed")
	f.Float32Var(&o.HubQPS, "hub-qps", hub.DefaultHubQPS, "requests per second of the controllers to the hub's API server")
	f.IntVar(&o.HubBurst, "hub-burst", hub.DefaultHubBurst, "burst of requests of the controllers to the hub's API server")
	f.IntVar(&o.Propagation.DetectorWorkers, "detector-workers", o.Propagation.DetectorWorkers, "templates the detector reconciles at once")
	f.IntVar(&o.Propagation.ExecutionWorkers, "execution-workers", o.Propagation.ExecutionWorkers, "bindings applied to members at once")
	f.Float32Var(&o.Propagation.MemberQPS, "member-qps", o.Propagation.MemberQPS, "requests per second to each member by the propagation pipeline")
	f.IntVar(&o.Propagation.MemberBurst, "member-burst", o.Propagation.MemberBurst, "burst of requests to each member by the propagation pipeline")
	f.IntVar(&o.Health.Workers, "cluster-probe-workers", o.Health.Workers, "members probed at once")
	f.DurationVar(&o.Failover.ClusterToleration, "cluster-failover-toleration", o.Failover.ClusterToleration,
		"how long templates stay on a member that is not Ready before they move, unless their policy's failover.cluster.tolerationSeconds says otherwise")
	f.Float64Var(&o.Failover.EvictionRate, "eviction-rate", o.Failover.EvictionRate, "templates per second that may leave failed members, fleet-wide")
	f.IntVar(&o.Failover.EvictionBurst, "eviction-burst", o.Failover.EvictionBurst, "templates that may leave failed members at once, fleet-wide")
	f.Float64Var(&o.UnhealthyFleetThreshold, "unhealthy-fleet-threshold", clusterhealth.DefaultUnhealthyFleetThreshold,
		"share of not-Ready members (in a fleet of 3 or more) above which failover pauses, as the hub's own network is the likelier fault")
	gfs := flag.NewFlagSet("zap", flag.ContinueOnError)
	zo.BindFlags(gfs)
	f.AddGoFlagSet(gfs)
	return cmd
}
