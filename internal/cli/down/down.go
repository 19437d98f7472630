// Package down implements `flotilla down`: stop the local fleet and remove
// its state.
package down

import (
	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// NewCommand returns `flotilla down`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local fleet and remove its state",
		Long: `Stop every process that ` + "`flotilla up`" + ` started and remove $FLOTILLA_HOME.
It works from what is on disk, so it also cleans up after a crash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bins, _ := localfleet.FindBinaries(".") // kwokctl is optional here
			return localfleet.Down(cmd.Context(), clientconfig.Home(), bins, cmd.ErrOrStderr())
		},
	}
}
