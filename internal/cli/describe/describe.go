// Package describe implements `flotilla describe`: everything the hub knows
// about one object, with its conditions and recent events, for
// troubleshooting.
package describe

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// NewCommand returns `flotilla describe`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe cluster NAME",
		Short:   "Show a fleet object in detail, with its conditions and events",
		Example: `  flotilla describe cluster member-cluster-1`,
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if i := strings.Index(kind, "/"); i >= 0 {
				kind, name = kind[:i], kind[i+1:]
			} else if len(args) == 2 {
				name = args[1]
			}
			if name == "" {
				return fmt.Errorf("name the object: flotilla describe cluster NAME")
			}
			if res, ok := get.Resource(kind); !ok || res != "clusters" {
				return fmt.Errorf("unknown kind %q: flotilla describe knows cluster", kind)
			}
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			return Cluster(cmd.Context(), c, cmd.OutOrStdout(), name, time.Now())
		},
	}
	return cmd
}

// Cluster describes one cluster.
func Cluster(ctx context.Context, c client.Client, w io.Writer, name string, now time.Time) error {
	var cl clusterv1alpha1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("cluster %q not found; `flotilla get clusters` lists the joined clusters", name)
		}
		return err
	}
	var evs corev1.EventList
	_ = c.List(ctx, &evs, client.MatchingFields{"involvedObject.kind": "Cluster", "involvedObject.name": name})
	return PrintCluster(w, &cl, evs.Items, now)
}

// PrintCluster writes the description of a cluster.
func PrintCluster(w io.Writer, cl *clusterv1alpha1.Cluster, events []corev1.Event, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	kv := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	kv("Name", cl.Name)
	kv("Labels", labels(cl.Labels))
	mode := string(cl.Spec.SyncMode)
	if mode == "" {
		mode = "Push"
	}
	kv("Mode", mode)
	kv("Endpoint", output.OrNone(cl.Spec.APIEndpoint))
	if cl.Spec.SecretRef != nil {
		kv("Credentials", cl.Spec.SecretRef.Namespace+"/"+cl.Spec.SecretRef.Name)
	} else {
		kv("Credentials", "<none>")
	}
	kv("Provider", output.OrNone(cl.Spec.Provider))
	kv("Region", output.OrNone(cl.Spec.Region))
	kv("Zone", output.OrNone(cl.Spec.Zone))
	var taints []string
	for _, t := range cl.Spec.Taints {
		taints = append(taints, t.ToString())
	}
	kv("Taints", output.OrNone(strings.Join(taints, ", ")))
	kv("Kubernetes version", output.OrNone(cl.Status.KubernetesVersion))
	kv("Joined", fmt.Sprintf("%s (%s ago)", cl.CreationTimestamp.UTC().Format(time.RFC3339), output.Age(cl.CreationTimestamp.Time, now)))
	if p := cl.Status.LastProbeTime; p != nil {
		s := fmt.Sprintf("%s ago", output.Age(p.Time, now))
		if cl.Status.ProbeLatencyMilliseconds != nil {
			s += fmt.Sprintf(", latency %dms", *cl.Status.ProbeLatencyMilliseconds)
		}
		s += fmt.Sprintf(", %d consecutive failures", cl.Status.ConsecutiveProbeFailures)
		kv("Last probe", s)
	} else {
		kv("Last probe", "never")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "Conditions:")
	if len(cl.Status.Conditions) == 0 {
		fmt.Fprintln(w, "  <none>: the hub has not probed this cluster yet; is `flotilla hub` running?")
	} else {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
		for _, c := range cl.Status.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, output.Age(c.LastTransitionTime.Time, now), c.Message)
		}
		_ = tw.Flush()
	}

	if ns := cl.Status.NodeSummary; ns != nil {
		fmt.Fprintf(w, "Nodes:  %d (%d ready)\n", ns.Total, ns.Ready)
	} else {
		fmt.Fprintln(w, "Nodes:  <unknown>")
	}
	if rs := cl.Status.ResourceSummary; rs != nil {
		fmt.Fprintln(w, "Resources:")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  RESOURCE\tALLOCATABLE\tREQUESTED\tPENDING")
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
			alloc, req, pend := rs.Allocatable[r], rs.Requested[r], rs.Allocating[r]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r, alloc.String(), withPercent(req, alloc), pend.String())
		}
		_ = tw.Flush()
	}

	fmt.Fprintln(w, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	sort.Slice(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	if len(events) > 20 {
		events = events[len(events)-20:]
	}
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tMESSAGE")
	for _, e := range events {
		from := e.ReportingController
		if from == "" {
			from = e.Source.Component
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, output.Age(eventTime(e), now), from, e.Message)
	}
	return tw.Flush()
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func withPercent(q, of resource.Quantity) string {
	if of.IsZero() {
		return q.String()
	}
	return fmt.Sprintf("%s (%d%%)", q.String(), q.MilliValue()*100/of.MilliValue())
}

func labels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
