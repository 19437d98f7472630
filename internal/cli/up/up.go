// Package up implements `flotilla up`: a local fleet of real clusters on
// this machine, the seed's first case.
package up

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// NewCommand returns `flotilla up`.
func NewCommand() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local fleet: a hub and three member clusters",
		Long: `Start a local fleet on this machine from real Kubernetes binaries: a hub
(etcd, kube-apiserver, kube-controller-manager and flotilla hub) and the
members member-cluster-1, member-cluster-2 and edge-cluster (kwok-simulated
nodes), joined to the hub. State lives in $FLOTILLA_HOME (default
~/.flotilla). Running it again repairs or reuses what is there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := clientconfig.Home()
			bins, err := localfleet.FindBinaries(".")
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			errw := cmd.ErrOrStderr()
			f, err := localfleet.Up(ctx, localfleet.FleetOptions{
				Home: home, Binaries: bins, Members: localfleet.DefaultMembers(),
				FlotillaBinary: self, Detach: true, Progress: errw,
			})
			if err != nil {
				return fmt.Errorf("%w\n(logs are in %s; `flotilla down` removes everything)", err, home)
			}
			if err := waitReady(ctx, home, len(f.Members), wait, errw); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			kc := localfleet.KubeconfigDir(home)
			fmt.Fprintf(out, "\nThe fleet is up. Kubeconfigs are in %s.\n\n", kc)
			fmt.Fprintf(out, "Next:\n")
			fmt.Fprintf(out, "  flotilla get clusters\n")
			fmt.Fprintf(out, "  flotilla describe cluster member-cluster-1\n")
			if seed := seedCase1(); seed != "" {
				fmt.Fprintf(out, "  flotilla apply -f %s   # the seed's case 1: 3 replicas split 2:1\n", seed)
				fmt.Fprintf(out, "  flotilla describe deployment/myapp\n")
				fmt.Fprintf(out, "  flotilla get bindings\n")
			}
			fmt.Fprintf(out, "  kubectl --kubeconfig %s get clusters.cluster.flotilla.io\n", filepath.Join(kc, "hub.yaml"))
			fmt.Fprintf(out, "  kubectl --kubeconfig %s get nodes\n", filepath.Join(kc, "member-cluster-1.yaml"))
			fmt.Fprintf(out, "  flotilla down\n")
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 90*time.Second, "how long to wait for every cluster to turn Ready")
	return cmd
}

// seedCase1 returns the path of the seed's case 1, relative to the working
// directory, when it is there (a checkout with ../shared beside it).
func seedCase1() string {
	for _, p := range []string{"../shared/seed/examples/case1-weighted.yaml", "shared/seed/examples/case1-weighted.yaml"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
