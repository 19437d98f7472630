// Package describe implements `flotilla describe`: everything the hub knows
// about one cluster, or about one template and why it runs where it runs
// (its policy, binding, scheduling decisions and each cluster's result),
// with recent events, for troubleshooting.
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
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	"github.com/flotilla-io/flotilla/internal/cli/output"
	"github.com/flotilla-io/flotilla/internal/membership"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// NewCommand returns `flotilla describe`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		ns     get.NamespaceOptions
		format string
	)
	cmd := &cobra.Command{
		Use:   "describe (cluster NAME | KIND NAME | KIND/NAME)",
		Short: "Show a cluster in detail, or trace a template to the clusters that run it",
		Long: `Describe a member cluster: its conditions, resources and events.

Describe any template on the hub (a Deployment, a ConfigMap, an object of a
CRD...) to see why it runs where it runs: the policy that claimed it, the
scheduler's decision on every cluster, what each cluster applied and
reports (with the member's exact error on failure), its dependencies, and
the events of the template and of its binding. KIND is anything kubectl
accepts: a kind, a plural or a short name, optionally with its group
(deploy, deployments.apps, cm). Describing a binding (rb, crb) traces its
template.

With -o json or -o yaml, a template's trace is printed as one object.`,
		Example: `  flotilla describe cluster member-cluster-1
  flotilla describe deployment web -n web
  flotilla describe deploy/web -n web -o yaml
  flotilla describe clusterrole/web-reader
  flotilla describe rb web-deployment -n web`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if i := strings.Index(kind, "/"); i >= 0 {
				if len(args) == 2 {
					return fmt.Errorf("name the object once: flotilla describe KIND/NAME or flotilla describe KIND NAME")
				}
				kind, name = kind[:i], kind[i+1:]
			} else if len(args) == 2 {
				name = args[1]
			}
			if name == "" {
				return fmt.Errorf("name the object: flotilla describe KIND NAME, such as flotilla describe cluster member-cluster-1")
			}
			if format != "" && format != output.JSON && format != output.YAML {
				return fmt.Errorf("unknown output format %q: describe prints text, json or yaml", format)
			}
			c, cfg, err := conn.Client()
			if err != nil {
				return err
			}
			namespace, err := ns.Resolve(conn)
			if err != nil {
				return err
			}
			mapper, err := NewMapper(cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return Describe(cmd.Context(), Options{Client: c, Mapper: mapper, Out: cmd.OutOrStdout(),
				Namespace: namespace, Format: format, Now: time.Now()}, kind, name)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "", "json or yaml: print the trace as one object (default: text)")
	ns.AddFlags(cmd.Flags(), false)
	return cmd
}

// Options are what Describe works with.
type Options struct {
	Client client.Client
	// Mapper resolves the kinds of templates.
	Mapper meta.RESTMapper
	Out    io.Writer
	// Namespace of namespaced objects.
	Namespace string
	// Format is "" for text, or output.JSON or output.YAML.
	Format string
	Now    time.Time
}

// Describe describes the object of kind (as a user typed it) named name: a
// cluster, a binding's template, or any template.
func Describe(ctx context.Context, o Options, kind, name string) error {
	var (
		tr  *Trace
		err error
	)
	switch res, _ := get.Resource(kind); res {
	case "clusters":
		if o.Format != "" {
			return clusterObject(ctx, o.Client, o.Out, name, o.Format)
		}
		return Cluster(ctx, o.Client, o.Out, name, o.Now)
	case "resourcebindings":
		tr, err = TraceBinding(ctx, o.Client, o.Namespace, name)
	case "clusterresourcebindings":
		tr, err = TraceBinding(ctx, o.Client, "", name)
	default:
		m, rerr := ResolveKind(o.Mapper, kind)
		if rerr != nil {
			return rerr
		}
		gvk := m.GroupVersionKind
		if gvk.Group == "flotilla.io" || strings.HasSuffix(gvk.Group, ".flotilla.io") {
			return fmt.Errorf("%s is one of Flotilla's own kinds, not a template; read it with `kubectl get %s.%s %s -o yaml`",
				gvk.Kind, m.Resource.Resource, gvk.Group, name)
		}
		namespace := ""
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			namespace = o.Namespace
		}
		tr, err = TraceTemplate(ctx, o.Client, gvk, namespace, name)
	}
	if err != nil {
		return err
	}
	if o.Format != "" {
		return output.PrintValue(o.Out, o.Format, tr)
	}
	return PrintTrace(o.Out, tr, o.Now)
}

// Cluster describes one cluster.
func Cluster(ctx context.Context, c client.Client, w io.Writer, name string, now time.Time) error {
	var cl clusterv1alpha1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return notJoined(listEvents(ctx, c, "Cluster", "", name), name, now)
		}
		return err
	}
	var lease *coordinationv1.Lease
	if cl.Spec.SyncMode == clusterv1alpha1.Pull {
		var l coordinationv1.Lease
		key := client.ObjectKey{Namespace: registration.ClusterNamespace(name), Name: registration.LeaseName(name)}
		switch err := c.Get(ctx, key, &l); {
		case err == nil:
			lease = &l
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("read the agent's lease %s: %w", key, err)
		}
	}
	return PrintCluster(w, &cl, lease, listEvents(ctx, c, "Cluster", "", name), now)
}

// heartbeat says when a Pull cluster's agent last renewed its lease.
func heartbeat(lease *coordinationv1.Lease, now time.Time) string {
	if lease == nil || lease.Spec.RenewTime == nil {
		return "never: no lease from the cluster's agent yet"
	}
	s := fmt.Sprintf("%s ago (%s)", output.Age(lease.Spec.RenewTime.Time, now), lease.Spec.RenewTime.UTC().Format(time.RFC3339))
	if d := lease.Spec.LeaseDurationSeconds; d != nil {
		s += fmt.Sprintf(", lease %s/%s lasts %ds", lease.Namespace, lease.Name, *d)
	}
	return s
}

// notJoined is the error of describing a cluster that is not in the fleet:
// with the last failed join of that name, when the hub recorded one.
func notJoined(events []corev1.Event, name string, now time.Time) error {
	var last *corev1.Event
	for i := range events {
		e := &events[i]
		if e.Reason == membership.ReasonJoinFailed && (last == nil || e.LastTimestamp.After(last.LastTimestamp.Time)) {
			last = e
		}
	}
	if last == nil {
		return clusterNotFound(name)
	}
	return fmt.Errorf("cluster %q is not joined: the last attempt, %s ago, %s", name, output.Age(last.LastTimestamp.Time, now), last.Message)
}

func clusterNotFound(name string) error {
	return fmt.Errorf("cluster %q not found; `flotilla get clusters` lists the joined clusters", name)
}

// clusterObject prints a cluster as JSON or YAML.
func clusterObject(ctx context.Context, c client.Client, w io.Writer, name, format string) error {
	var cl clusterv1alpha1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
		if apierrors.IsNotFound(err) {
			return clusterNotFound(name)
		}
		return err
	}
	cl.SetGroupVersionKind(clusterv1alpha1.GroupVersion.WithKind("Cluster"))
	return output.PrintObject(w, format, &cl)
}

// offlinePolicy says what happens to a Pull cluster's replicas while it is
// Offline, and since when it is.
func offlinePolicy(cl *clusterv1alpha1.Cluster) string {
	p := "StayPut (default): replicas stay while the agent is offline"
	switch cl.Spec.Offline {
	case clusterv1alpha1.OfflineStayPut:
		p = "StayPut: replicas stay while the agent is offline"
	case clusterv1alpha1.OfflineFailOver:
		p = "FailOver: replicas move after the failover toleration while the agent is offline"
	}
	return p + "; a policy's failover.cluster.offline overrides it"
}

// PrintCluster writes the description of a cluster.
// lease is a Pull cluster's heartbeat lease, nil for a Push cluster or
// when there is none yet.
func PrintCluster(w io.Writer, cl *clusterv1alpha1.Cluster, lease *coordinationv1.Lease, events []corev1.Event, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	kv := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	kv("Name", cl.Name)
	kv("Labels", labels(cl.Labels))
	mode := string(cl.Spec.SyncMode)
	if mode == "" {
		mode = "Push"
	}
	kv("Mode", mode)
	if cl.Spec.SyncMode == clusterv1alpha1.Pull {
		kv("Offline policy", offlinePolicy(cl))
	}
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
	if cl.Spec.SyncMode == clusterv1alpha1.Pull {
		kv("Last heartbeat", heartbeat(lease, now))
	} else if p := cl.Status.LastProbeTime; p != nil {
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

	return printEvents(w, events, now, false)
}

// printEvents writes the last 20 events, oldest first; withObject adds the
// column of the object each is about.
func printEvents(w io.Writer, events []corev1.Event, now time.Time, withObject bool) error {
	fmt.Fprintln(w, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	if len(events) > 20 {
		events = events[len(events)-20:]
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if withObject {
		fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tOBJECT\tMESSAGE")
	} else {
		fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tMESSAGE")
	}
	for _, e := range events {
		from := e.ReportingController
		if from == "" {
			from = e.Source.Component
		}
		if withObject {
			obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, output.Age(eventTime(e), now), from, obj, e.Message)
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, output.Age(eventTime(e), now), from, e.Message)
		}
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
