// Package unjoin implements `flotilla unjoin`: remove a member cluster from
// the fleet, with Flotilla's identity in the member.
package unjoin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/membership"
)

// NewCommand returns `flotilla unjoin`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var o membership.UnjoinOptions
	cmd := &cobra.Command{
		Use:     "unjoin NAME",
		Short:   "Remove a member cluster from the fleet",
		Example: `  flotilla unjoin member-cluster-3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			warning, err := membership.Unjoin(cmd.Context(), c, args[0], o)
			if warning != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+warning)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster.cluster.flotilla.io/%s unjoined\n", args[0])
			return nil
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of the calls to the member")
	return cmd
}
