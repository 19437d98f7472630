// Package accept implements `flotilla accept`: the second approval of a
// pull-mode registration made with a token that requires one.
package accept

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// NewCommand returns `flotilla accept`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var reject bool
	cmd := &cobra.Command{
		Use:   "accept NAME",
		Short: "Accept (or --reject) a pull-mode cluster's registration that waits for it",
		Long: `Give a pull-mode registration its second approval. A registration made with a
token from ` + "`flotilla token create --require-accept`" + ` waits, its cluster listed
as not Ready (reason AwaitingAcceptance), until an administrator accepts it;
the hub then approves the agent's certificate.

With --reject, the hub denies the agent's certificate request and removes the
cluster.`,
		Example: `  flotilla accept edge-7
  flotilla accept --reject edge-7`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			if reject {
				if err := registration.Reject(cmd.Context(), c, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cluster.cluster.flotilla.io/%s rejected\n", args[0])
				return nil
			}
			if err := registration.Accept(cmd.Context(), c, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster.cluster.flotilla.io/%s accepted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&reject, "reject", false, "deny the registration and remove the cluster")
	return cmd
}
