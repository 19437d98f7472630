// Package get implements `flotilla get`: list fleet objects as a table, a
// wide table, JSON or YAML (a v1 List), or names.
package get

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// resourceAliases maps what a user may type to a resource.
var resourceAliases = map[string]string{
	"cluster": "clusters", "clusters": "clusters", "fc": "clusters", "mcl": "clusters",
	"clusters.cluster.flotilla.io": "clusters",

	"binding": "resourcebindings", "bindings": "resourcebindings", "rb": "resourcebindings",
	"resourcebinding": "resourcebindings", "resourcebindings": "resourcebindings",
	"resourcebindings.work.flotilla.io": "resourcebindings",

	"clusterbinding": "clusterresourcebindings", "clusterbindings": "clusterresourcebindings", "crb": "clusterresourcebindings",
	"clusterresourcebinding": "clusterresourcebindings", "clusterresourcebindings": "clusterresourcebindings",
	"clusterresourcebindings.work.flotilla.io": "clusterresourcebindings",
}

// Resource resolves what a user typed (cluster, clusters, fc, ...) to a
// resource name.
func Resource(arg string) (string, bool) {
	res, ok := resourceAliases[strings.ToLower(arg)]
	return res, ok
}

// NewCommand returns `flotilla get`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		out output.Options
		ns  NamespaceOptions
	)
	cmd := &cobra.Command{
		Use:   "get RESOURCE [NAME...]",
		Short: "List fleet objects (clusters, bindings, clusterbindings)",
		Long: `List fleet objects:

  clusters (cluster, fc, mcl)                        the member clusters
  bindings (binding, rb, resourcebindings)           where each namespaced template runs
  clusterbindings (crb, clusterresourcebindings)     where each cluster-scoped template runs

Bindings are listed in the namespace of -n, else of the kubeconfig context,
else default; -A lists every namespace.`,
		Example: `  flotilla get clusters
  flotilla get clusters -o wide
  flotilla get cluster member-cluster-1 -o yaml
  flotilla get bindings -n web
  flotilla get rb -A -o wide
  flotilla get clusterbindings`,
		Args: cobra.MinimumNArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"clusters", "bindings", "clusterbindings"}, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			res, ok := Resource(args[0])
			if !ok {
				return fmt.Errorf("unknown resource %q: flotilla get knows clusters, bindings (rb) and clusterbindings (crb)", args[0])
			}
			if ns.AllNamespaces && len(args) > 1 {
				return fmt.Errorf("a resource cannot be retrieved by name across all namespaces; drop -A")
			}
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			w, names, now := cmd.OutOrStdout(), args[1:], time.Now()
			switch res {
			case "clusters":
				return Clusters(cmd.Context(), c, w, names, out.Format, now)
			case "resourcebindings":
				namespace := ""
				if !ns.AllNamespaces {
					if namespace, err = ns.Resolve(conn); err != nil {
						return err
					}
				}
				return ResourceBindings(cmd.Context(), c, w, namespace, names, out.Format, now)
			case "clusterresourcebindings":
				return ClusterResourceBindings(cmd.Context(), c, w, names, out.Format, now)
			}
			return nil
		},
	}
	out.AddFlags(cmd.Flags())
	ns.AddFlags(cmd.Flags(), true)
	return cmd
}

// Clusters prints clusters, all of them or the named ones.
func Clusters(ctx context.Context, c client.Client, w io.Writer, names []string, format string, now time.Time) error {
	var list clusterv1alpha1.ClusterList
	if err := c.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("the hub does not serve the cluster.flotilla.io API; install Flotilla on it with `flotilla install`")
		}
		return fmt.Errorf("list clusters: %w", err)
	}
	items := list.Items
	if len(names) > 0 {
		byName := map[string]clusterv1alpha1.Cluster{}
		for _, cl := range list.Items {
			byName[cl.Name] = cl
		}
		items = nil
		var missing []string
		for _, n := range names {
			if cl, ok := byName[n]; ok {
				items = append(items, cl)
			} else {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("cluster %s not found", strings.Join(missing, ", "))
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })

	switch format {
	case output.JSON, output.YAML:
		objs := make([]runtime.Object, len(items))
		for i := range items {
			items[i].APIVersion, items[i].Kind = clusterv1alpha1.GroupVersion.String(), "Cluster"
			objs[i] = &items[i]
		}
		return output.PrintList(w, format, objs)
	case output.Name:
		for _, cl := range items {
			fmt.Fprintf(w, "cluster.cluster.flotilla.io/%s\n", cl.Name)
		}
		return nil
	}
	if len(items) == 0 {
		fmt.Fprintln(w, "No clusters joined. Join one with `flotilla join NAME --cluster-kubeconfig FILE`.")
		return nil
	}
	cols := []output.Column{{Header: "NAME"}, {Header: "MODE"}, {Header: "READY"}, {Header: "VERSION"},
		{Header: "REGION"}, {Header: "NODES"}, {Header: "AGE"},
		{Header: "PROVIDER", Wide: true}, {Header: "ZONE", Wide: true}, {Header: "ENDPOINT", Wide: true}, {Header: "REASON", Wide: true},
		{Header: "TAINTS", Wide: true}}
	rows := make([]output.Row, 0, len(items))
	for _, cl := range items {
		rows = append(rows, ClusterRow(&cl, now))
	}
	return output.PrintTable(w, format == output.Wide, cols, rows)
}

// ClusterRow is one cluster's table cells, wide columns included.
func ClusterRow(cl *clusterv1alpha1.Cluster, now time.Time) output.Row {
	ready, reason := "Unknown", ""
	if cond := meta.FindStatusCondition(cl.Status.Conditions, clusterv1alpha1.ConditionReady); cond != nil {
		ready, reason = string(cond.Status), cond.Reason
	}
	nodes := "-"
	if cl.Status.NodeSummary != nil {
		nodes = strconv.Itoa(int(cl.Status.NodeSummary.Total))
	}
	mode := string(cl.Spec.SyncMode)
	if mode == "" {
		mode = string(clusterv1alpha1.Push)
	}
	return output.Row{
		cl.Name, mode, ready, dash(cl.Status.KubernetesVersion), dash(cl.Spec.Region), nodes,
		output.Age(cl.CreationTimestamp.Time, now),
		dash(cl.Spec.Provider), dash(cl.Spec.Zone), dash(cl.Spec.APIEndpoint), dash(reason), taints(cl.Spec.Taints),
	}
}

// taints lists taints as KEY[=VALUE]:EFFECT, comma-separated, the way
// kubectl taint takes them.
func taints(ts []corev1.Taint) string {
	if len(ts) == 0 {
		return "-"
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ToString()
	}
	return strings.Join(out, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
