// Package version implements `flotilla version`.
package version

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// Version is set at build time with -ldflags -X.
var Version = "dev"

// NewCommand returns `flotilla version`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of flotilla and of the Kubernetes it runs locally",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "flotilla %s %s\nlocal fleet: kubernetes %s, etcd %s, kwok %s\n",
				Version, rev, localfleet.KubeVersion, localfleet.EtcdVersion, localfleet.KwokVersion)
		},
	}
}
