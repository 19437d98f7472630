package top

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// NewCommand returns `flotilla top`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show how much of each cluster's CPU, memory and pods is requested",
		Long: `Top shows how much of each member cluster's capacity is allocated.

These are requests against allocatable, not live usage: the sums the hub
keeps on each Cluster's status.resourceSummary, like the scheduler sees
them. For live usage, run kubectl top against a member.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newClustersCommand(conn))
	return cmd
}

func newClustersCommand(conn *clientconfig.Options) *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:     "clusters [NAME...]",
		Aliases: []string{"cluster", "fc", "mcl"},
		Short:   "Show the CPU, memory and pods requested in each cluster, against allocatable",
		Long: `Show, for each member cluster, the CPU, memory and pods that its pods
request, over what its nodes can allocate, with a percentage.

These are requests against allocatable, not live usage: like
` + "`kubectl top nodes`" + `, but for allocation. Allocatable counts only ready,
schedulable nodes; requested counts the non-terminal pods bound to a node.
-o wide adds the ready nodes and what pods not yet bound to a node request
(PENDING). A cluster the hub has not summarized yet shows <unknown>.

Clusters are sorted by name; --sort-by cpu, memory or pods sorts them by
that percentage, the fullest first.`,
		Example: `  flotilla top clusters
  flotilla top clusters --sort-by memory
  flotilla top clusters member-cluster-1 -o wide
  flotilla top clusters -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			o.Names = args
			return Clusters(cmd.Context(), c, cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Format, "output", "o", "", "output format: wide, json or yaml (default: a table)")
	cmd.Flags().StringVar(&o.SortBy, "sort-by", "", "sort by the percentage of cpu, memory or pods requested, the highest first (default: by name)")
	return cmd
}

// Validate rejects unknown formats and sort keys.
func (o *Options) Validate() error {
	switch o.Format {
	case output.Table, output.Wide, output.JSON, output.YAML:
	default:
		return fmt.Errorf("unknown output format %q: top prints a table, wide, json or yaml", o.Format)
	}
	switch o.SortBy {
	case "", SortByCPU, SortByMemory, SortByPods:
	default:
		return fmt.Errorf("unknown --sort-by %q: use cpu, memory or pods", o.SortBy)
	}
	return nil
}
