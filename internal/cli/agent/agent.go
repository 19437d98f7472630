// Package agent implements `flotilla agent`, the pull-mode daemon beside a
// member cluster: it keeps its identity (certificate rotation), heartbeats
// to the hub, reports the cluster's status, and syncs the cluster's work.
package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-io/flotilla/api"
	"github.com/flotilla-io/flotilla/internal/agent/heartbeat"
	"github.com/flotilla-io/flotilla/internal/agent/identity"
	"github.com/flotilla-io/flotilla/internal/agent/worksync"
)

// The work-sync engine's rate limit to the hub: client-go's default (5/s)
// would make the status of many works catch up slowly after a partition.
const (
	workSyncQPS   = 50
	workSyncBurst = 100
)

// Options configure the agent.
type Options struct {
	// Dir is the agent's directory, written by `flotilla register`.
	Dir string
	// ClusterKubeconfig and ClusterContext override the local cluster
	// recorded at registration.
	ClusterKubeconfig, ClusterContext string
	// HeartbeatInterval and LeaseDuration tune the heartbeat.
	HeartbeatInterval, LeaseDuration time.Duration
	// StatusInterval is the time between status reports.
	StatusInterval time.Duration
	// RenewFraction is the share of the certificate's lifetime after which
	// the agent renews it.
	RenewFraction float64

	zap zap.Options
}

// AddRunFlags registers the flags that tune a running agent (also on
// `flotilla register --start`).
func (o *Options) AddRunFlags(f *pflag.FlagSet) {
	f.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", heartbeat.DefaultInterval, "time between renewals of the cluster's lease on the hub")
	f.DurationVar(&o.LeaseDuration, "lease-duration", heartbeat.DefaultLeaseDuration,
		"how long the hub waits for a renewal before it marks the cluster Offline (whole seconds, longer than --heartbeat-interval)")
	f.DurationVar(&o.StatusInterval, "status-interval", 30*time.Second, "time between looks at the local cluster's version, nodes and resources")
	f.Float64Var(&o.RenewFraction, "cert-renew-fraction", identity.DefaultRenewFraction,
		"share of the certificate's lifetime after which the agent renews it, in (0, 1)")
	gfs := flag.NewFlagSet("zap", flag.ContinueOnError)
	o.zap.BindFlags(gfs)
	f.AddGoFlagSet(gfs)
}

// NewCommand returns `flotilla agent`.
func NewCommand() *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:   "agent [--dir DIR]",
		Short: "Run the pull-mode agent of a registered cluster (a daemon)",
		Long: `Run the agent of a cluster that ` + "`flotilla register`" + ` registered: it renews
its client certificate before it expires, renews the cluster's lease on the hub
every --heartbeat-interval (the hub marks the cluster Offline when the lease
runs out), reports the cluster's version, nodes and resources, and syncs the
cluster's work. It reaches the hub only with the identity in --dir.`,
		Example: `  flotilla agent --dir /var/lib/flotilla-agent`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", identity.DefaultDir(), "the agent's directory, as flotilla register wrote it")
	f.StringVar(&o.ClusterKubeconfig, "cluster-kubeconfig", "", "kubeconfig of the local cluster (default: the one given at registration, else in-cluster credentials)")
	f.StringVar(&o.ClusterContext, "cluster-context", "", "context in --cluster-kubeconfig")
	o.AddRunFlags(f)
	_ = cmd.MarkFlagFilename("cluster-kubeconfig")
	return cmd
}

// LocalConfig is the client configuration of the local cluster: the
// kubeconfig, else the in-cluster credentials.
func LocalConfig(path, context string) (*rest.Config, error) {
	if path == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --cluster-kubeconfig, and not running in a cluster (%v): pass the local cluster's kubeconfig", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load the local cluster's kubeconfig %s: %w", path, err)
	}
	cfg.UserAgent = "flotilla-agent"
	return cfg, nil
}

// Run runs the agent until ctx ends or a part of it fails for good.
func Run(ctx context.Context, o Options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("agent")
	m, err := identity.NewManager(identity.ManagerOptions{Dir: o.Dir, RenewFraction: o.RenewFraction, Log: log.WithName("identity")})
	if err != nil {
		return err
	}
	cfg := m.Config()
	kc, kctx := cfg.ClusterKubeconfig, cfg.ClusterContext
	if o.ClusterKubeconfig != "" {
		kc, kctx = o.ClusterKubeconfig, o.ClusterContext
	}
	local, err := LocalConfig(kc, kctx)
	if err != nil {
		return err
	}
	hubCfg := m.RESTConfig()
	cs, err := kubernetes.NewForConfig(hubCfg)
	if err != nil {
		return err
	}
	hub, err := client.New(hubCfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	hb := heartbeat.Options{Cluster: cfg.Cluster, Interval: o.HeartbeatInterval, LeaseDuration: o.LeaseDuration,
		Holder: fmt.Sprintf("flotilla-agent@%s/%d", host, os.Getpid()), Log: log.WithName("heartbeat")}
	log.Info("agent starting", "cluster", cfg.Cluster, "hub", cfg.Hub, "dir", o.Dir)

	parts := map[string]func(context.Context) error{
		"certificate rotation": m.Run,
		"heartbeat":            func(ctx context.Context) error { return heartbeat.Run(ctx, cs, hb) },
		"status report": func(ctx context.Context) error {
			return heartbeat.ReportStatus(ctx, hub, local, heartbeat.StatusOptions{Cluster: cfg.Cluster, Interval: o.StatusInterval, Log: log.WithName("status")})
		},
	}
	// The work: persisted in the agent's directory, so that a restart
	// while the hub is unreachable resumes from it.
	syncHub := m.RESTConfig()
	syncHub.QPS, syncHub.Burst = workSyncQPS, workSyncBurst
	engine, err := worksync.New(syncHub, local, worksync.Options{Cluster: cfg.Cluster, StateDir: filepath.Join(o.Dir, "state")})
	if err != nil {
		return err
	}
	parts["work sync"] = engine.Run
	return runAll(ctx, parts)
}

// runAll runs every part until ctx ends; the first part to fail stops the
// others, and its error is returned.
func runAll(ctx context.Context, parts map[string]func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for name, run := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				once.Do(func() { first = fmt.Errorf("%s: %w", name, err) })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}
