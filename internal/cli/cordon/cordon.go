package cordon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
)

// NewCommand returns `flotilla cordon`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var drain bool
	cmd := &cobra.Command{
		Use:   "cordon CLUSTER...",
		Short: "Keep new workloads off clusters; with --drain, move their workloads away",
		Long: `Cordon marks clusters unschedulable, for maintenance: it adds the taint
cluster.flotilla.io/unschedulable:NoSchedule, so that the scheduler places no
new template there. What a cluster already runs stays there.

With --drain, cordon also adds cluster.flotilla.io/unschedulable:NoExecute:
the scheduler moves every template that does not tolerate it to other
clusters, and the objects left behind are removed once their replacements
are healthy (or the policy's grace period ends).

Cordoning a cordoned cluster changes nothing. ` + "`flotilla uncordon`" + ` undoes both.`,
		Example: `  flotilla cordon member-cluster-2
  flotilla cordon --drain member-cluster-2 member-cluster-3`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				changed, err := Cordon(cmd.Context(), c, name, drain, time.Now())
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), cordonMessage(name, drain, changed))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&drain, "drain", false, "also move the workloads the clusters run to other clusters (taint effect NoExecute)")
	return cmd
}

// NewUncordonCommand returns `flotilla uncordon`.
func NewUncordonCommand(conn *clientconfig.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "uncordon CLUSTER...",
		Short: "Let the scheduler use cordoned clusters again",
		Long: `Uncordon removes every cluster.flotilla.io/unschedulable taint from clusters,
as ` + "`flotilla cordon`" + ` (with or without --drain) put them. Templates that were
moved away are not moved back by themselves; ` + "`flotilla rebalance`" + ` asks the
scheduler to decide a template's placement afresh.`,
		Example: `  flotilla uncordon member-cluster-2`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				changed, err := Uncordon(cmd.Context(), c, name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if changed {
					fmt.Fprintf(cmd.OutOrStdout(), "cluster/%s uncordoned\n", name)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "cluster/%s already uncordoned\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
}

func cordonMessage(name string, drain, changed bool) string {
	switch {
	case drain && changed:
		return fmt.Sprintf("cluster/%s cordoned and draining: its workloads move to other clusters", name)
	case drain:
		return fmt.Sprintf("cluster/%s already cordoned and draining", name)
	case changed:
		return fmt.Sprintf("cluster/%s cordoned", name)
	}
	return fmt.Sprintf("cluster/%s already cordoned", name)
}

// Cordon adds the unschedulable taint with effect NoSchedule to the cluster
// named name, and with drain the same key with effect NoExecute too. It
// reports whether the cluster changed: false when it was already so.
func Cordon(ctx context.Context, c client.Client, name string, drain bool, now time.Time) (bool, error) {
	return EditTaints(ctx, c, name, func(cl *clusterv1alpha1.Cluster) ([]corev1.Taint, bool, error) {
		taints, changed := cordonTaints(cl.Spec.Taints, drain, now)
		return taints, changed, nil
	})
}

// Uncordon removes every unschedulable taint from the cluster named name.
// It reports whether the cluster had any.
func Uncordon(ctx context.Context, c client.Client, name string) (bool, error) {
	return EditTaints(ctx, c, name, func(cl *clusterv1alpha1.Cluster) ([]corev1.Taint, bool, error) {
		taints, changed := uncordonTaints(cl.Spec.Taints)
		return taints, changed, nil
	})
}

// cordonTaints returns taints with the unschedulable taints of a cordon
// (NoSchedule, and NoExecute when drain) added, and whether any was missing.
// A present unschedulable taint counts whatever its value.
func cordonTaints(taints []corev1.Taint, drain bool, now time.Time) ([]corev1.Taint, bool) {
	effects := []corev1.TaintEffect{corev1.TaintEffectNoSchedule}
	if drain {
		effects = append(effects, corev1.TaintEffectNoExecute)
	}
	out := slices.Clone(taints)
	changed := false
	for _, e := range effects {
		if slices.ContainsFunc(out, func(t corev1.Taint) bool { return t.Key == clusterv1alpha1.TaintUnschedulable && t.Effect == e }) {
			continue
		}
		added := metav1.NewTime(now)
		out = append(out, corev1.Taint{Key: clusterv1alpha1.TaintUnschedulable, Effect: e, TimeAdded: &added})
		changed = true
	}
	return out, changed
}

// uncordonTaints returns taints without the unschedulable ones, and whether
// there were any.
func uncordonTaints(taints []corev1.Taint) ([]corev1.Taint, bool) {
	out := slices.DeleteFunc(slices.Clone(taints), func(t corev1.Taint) bool { return t.Key == clusterv1alpha1.TaintUnschedulable })
	return out, len(out) != len(taints)
}
