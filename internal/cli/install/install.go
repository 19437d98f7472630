// Package install implements `flotilla install`: make a kube-apiserver a
// Flotilla hub (CRDs, namespace, RBAC for the hub controller).
package install

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	inst "github.com/flotilla-io/flotilla/internal/install"
)

// NewCommand returns `flotilla install`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install Flotilla's API and RBAC on a hub kube-apiserver",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dryRun {
				objs, err := inst.Objects()
				if err != nil {
					return err
				}
				for _, o := range objs {
					b, err := yaml.Marshal(o.Object)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "---\n%s", b)
				}
				return nil
			}
			cfg, err := conn.RESTConfig()
			if err != nil {
				return err
			}
			return inst.Install(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them")
	return cmd
}
