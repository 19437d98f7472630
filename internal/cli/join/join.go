// Package join implements `flotilla join`: add a member cluster to the fleet
// in Push mode, after checking that it can work.
package join

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/membership"
)

// NewCommand returns `flotilla join`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		o      membership.JoinOptions
		labels []string
	)
	cmd := &cobra.Command{
		Use:   "join NAME --cluster-kubeconfig FILE",
		Short: "Join a member cluster to the fleet (Push mode)",
		Long: `Join a member cluster to the fleet in Push mode: the hub reaches the member's
API server and applies work there.

Join first checks the name, the kubeconfig, the hub, that the member answers,
accepts the kubeconfig's credentials and grants the rights joining needs.
Only then does it create Flotilla's own service account in the member and
store that account's token (never your credentials) in the hub's
flotilla-system namespace. If any step fails, nothing is left behind but a
Warning event (reason JoinFailed) on the hub, which ` + "`flotilla describe cluster NAME`" + `
shows with the failed step and the fix.`,
		Example: `  flotilla join member-cluster-3 --cluster-kubeconfig ~/.kube/m3.yaml \
      --label environment=production --region eu-west-1 --provider aws`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.Labels = map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("invalid --label %q: use key=value", l)
				}
				o.Labels[k] = v
			}
			if o.KubeconfigPath == "" {
				return fmt.Errorf("--cluster-kubeconfig is required: a kubeconfig that reaches the member with admin rights")
			}
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			cl, err := membership.Join(cmd.Context(), c, o)
			if err != nil {
				// For `flotilla describe cluster NAME` later; best effort.
				if rerr := membership.RecordFailure(cmd.Context(), c, err); rerr != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: could not record the failure on the hub for `flotilla describe cluster %s`: %v\n", o.Name, rerr)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster.cluster.flotilla.io/%s joined\n", cl.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.KubeconfigPath, "cluster-kubeconfig", "", "kubeconfig of the member cluster (required)")
	f.StringVar(&o.Context, "cluster-context", "", "context in --cluster-kubeconfig (default: its current context)")
	f.StringArrayVar(&labels, "label", nil, "label for the Cluster, key=value (repeatable)")
	f.StringVar(&o.Region, "region", "", "region the member runs in")
	f.StringVar(&o.Zone, "zone", "", "zone the member runs in")
	f.StringVar(&o.Provider, "provider", "", "cloud or platform the member runs on")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of each check against the member")
	_ = cmd.MarkFlagFilename("cluster-kubeconfig")
	return cmd
}
