// Package rebalance implements `flotilla rebalance`: ask the scheduler to
// decide a template's placement afresh, moving its replicas back to the
// distribution its policy wants (after a failover, a drain or a new
// cluster), and optionally wait for the decision.
package rebalance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/describe"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// DefaultInterval is how often --wait reads the binding.
const DefaultInterval = 500 * time.Millisecond

// NewCommand returns `flotilla rebalance`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		ns     get.NamespaceOptions
		o      Options
		format string
	)
	cmd := &cobra.Command{
		Use:   "rebalance KIND/NAME",
		Short: "Ask the scheduler to place a template afresh",
		Long: `Rebalance asks the scheduler to decide again where a template runs, as if it
were new: replicas move back to the distribution its policy asks for. The
scheduler otherwise keeps a placement stable, so that unrelated cluster
events never reshuffle replicas; after a failover, a drain or a cluster
joining, rebalance brings the fleet back into shape.

Rebalance sets spec.rescheduleTriggeredAt on the template's binding. With
--wait it waits for the scheduler's decision and prints it, one line per
cluster; it fails if the template cannot be scheduled. KIND is anything
kubectl accepts (deploy, deployments.apps, a CRD's plural...), as for
` + "`flotilla describe`" + `; rb/NAME and crb/NAME name a binding directly.`,
		Example: `  flotilla rebalance deployment/web -n web
  flotilla rebalance deploy/web -n web --wait
  flotilla rebalance clusterrole/web-reader --wait -o yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if k, n, ok := strings.Cut(kind, "/"); ok {
				if len(args) == 2 {
					return fmt.Errorf("name the template once: flotilla rebalance KIND/NAME")
				}
				kind, name = k, n
			} else if len(args) == 2 {
				name = args[1]
			}
			if kind == "" || name == "" {
				return fmt.Errorf("name the template: flotilla rebalance KIND/NAME, such as flotilla rebalance deployment/web")
			}
			if format != "" && format != output.JSON && format != output.YAML {
				return fmt.Errorf("unknown output format %q: rebalance prints text, json or yaml", format)
			}
			if o.Timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, such as 2m")
			}
			c, cfg, err := conn.Client()
			if err != nil {
				return err
			}
			if o.Namespace, err = ns.Resolve(conn); err != nil {
				return err
			}
			if o.Mapper, err = describe.NewMapper(cfg, cmd.ErrOrStderr()); err != nil {
				return err
			}
			o.Client, o.Out, o.ErrOut, o.Format = c, cmd.OutOrStdout(), cmd.ErrOrStderr(), format
			return Rebalance(cmd.Context(), o, kind, name)
		},
	}
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "wait for the scheduler's decision and print it")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long --wait waits")
	cmd.Flags().StringVarP(&format, "output", "o", "", "json or yaml: print the binding (after --wait, its decision)")
	ns.AddFlags(cmd.Flags(), false)
	return cmd
}

// Options are what Rebalance works with.
type Options struct {
	Client client.Client
	// Mapper resolves the kinds of templates.
	Mapper meta.RESTMapper
	// Out gets the result; ErrOut the progress when Out gets JSON or YAML.
	Out, ErrOut io.Writer
	// Namespace of namespaced templates.
	Namespace string
	// Format is "" for text, or output.JSON or output.YAML.
	Format string
	// Wait for the scheduler's decision, for at most Timeout, reading the
	// binding every Interval (DefaultInterval when 0).
	Wait     bool
	Timeout  time.Duration
	Interval time.Duration
	// Now is the time written to spec.rescheduleTriggeredAt; time.Now when
	// zero.
	Now time.Time
}

// target is the binding to rebalance, and how to name it to a user.
type target struct {
	// what the user asked for, such as deployment/web.
	what string
	// binding is an empty binding with its name and namespace set.
	binding workv1alpha1.Binding
	// policy is the template's claimed-by annotation.
	policy string
}

// bindingString names the binding as "resourcebinding NS/NAME" or
// "clusterresourcebinding NAME".
func (t target) bindingString() string {
	if t.binding.GetNamespace() != "" {
		return "resourcebinding " + t.binding.GetNamespace() + "/" + t.binding.GetName()
	}
	return "clusterresourcebinding " + t.binding.GetName()
}

// Rebalance requests a new scheduling decision for the template of kind (as
// a user typed it) named name, and with o.Wait waits for it.
func Rebalance(ctx context.Context, o Options, kind, name string) error {
	t, err := resolve(ctx, o, kind, name)
	if err != nil {
		return err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := trigger(ctx, o.Client, t, now); err != nil {
		return err
	}
	progress := o.Out
	if o.Format != "" {
		progress = o.ErrOut
	}
	if t.what == t.bindingString() {
		fmt.Fprintf(progress, "rebalance requested for %s\n", t.what)
	} else {
		fmt.Fprintf(progress, "rebalance requested for %s (%s)\n", t.what, t.bindingString())
	}
	b := t.binding
	var notScheduled error
	if o.Wait {
		if err := waitForScheduler(ctx, o, t); err != nil {
			return err
		}
		notScheduled = scheduledError(t)
	}
	if o.Format != "" {
		b.GetObjectKind().SetGroupVersionKind(workv1alpha1.GroupVersion.WithKind(kindOf(b)))
		if err := output.PrintObject(o.Out, o.Format, b); err != nil {
			return err
		}
		return notScheduled
	}
	if o.Wait && notScheduled == nil {
		printPlacement(o.Out, b)
	}
	return notScheduled
}

// resolve finds the binding of the template, or the binding named.
func resolve(ctx context.Context, o Options, kind, name string) (target, error) {
	switch res, _ := get.Resource(kind); res {
	case "clusters":
		return target{}, fmt.Errorf("rebalance places templates, not clusters; to move the workloads off cluster %s, run flotilla cordon --drain %s", name, name)
	case "resourcebindings", "clusterresourcebindings":
		t := target{binding: workv1alpha1.NewBinding(res == "resourcebindings")}
		t.binding.SetName(name)
		if res == "resourcebindings" {
			t.binding.SetNamespace(o.Namespace)
		}
		t.what = t.bindingString()
		return t, nil
	}
	m, err := describe.ResolveKind(o.Mapper, kind)
	if err != nil {
		return target{}, err
	}
	gvk := m.GroupVersionKind
	if gvk.Group == "flotilla.io" || strings.HasSuffix(gvk.Group, ".flotilla.io") {
		return target{}, fmt.Errorf("%s is one of Flotilla's own kinds, not a template: rebalance a template that a policy propagates, such as deployment/NAME", gvk.Kind)
	}
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	namespace := ""
	if namespaced {
		namespace = o.Namespace
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := o.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			where := ""
			if namespace != "" {
				where = " in namespace " + namespace
			}
			return target{}, fmt.Errorf("%s %q not found%s", strings.ToLower(gvk.Kind), name, where)
		}
		return target{}, fmt.Errorf("get %s %s: %w", strings.ToLower(gvk.Kind), name, err)
	}
	t := target{
		what:    strings.ToLower(gvk.Kind) + "/" + name,
		binding: workv1alpha1.NewBinding(namespaced),
		policy:  u.GetAnnotations()[workv1alpha1.AnnotationPolicy],
	}
	t.binding.SetName(workv1alpha1.BindingName(name, gvk.Kind))
	t.binding.SetNamespace(namespace)
	return t, nil
}

// trigger sets spec.rescheduleTriggeredAt with a merge patch. The binding
// the hub answers with, and so its new generation, is left in t.binding.
func trigger(ctx context.Context, c client.Client, t target, now time.Time) error {
	at := metav1.NewTime(now)
	patch := fmt.Appendf(nil, `{"spec":{"rescheduleTriggeredAt":%q}}`, at.UTC().Format(time.RFC3339))
	err := c.Patch(ctx, t.binding, client.RawPatch(types.MergePatchType, patch))
	switch {
	case apierrors.IsNotFound(err):
		return noBinding(t)
	case meta.IsNoMatchError(err):
		return fmt.Errorf("the hub does not serve the work.flotilla.io API; install Flotilla on it with `flotilla install`")
	case err != nil:
		return fmt.Errorf("update %s: %w", t.bindingString(), err)
	}
	return nil
}

func noBinding(t target) error {
	switch {
	case t.what == t.bindingString():
		return fmt.Errorf("%s not found; flotilla get bindings lists them", t.what)
	case t.policy != "":
		return fmt.Errorf("%s has no binding yet: %s claims it, but the hub has not created its binding; is flotilla hub running?", t.what, t.policy)
	}
	return fmt.Errorf("%s has no binding: no propagation policy selects it", t.what)
}

// waitForScheduler reads the binding until the scheduler has acted on the
// generation the trigger produced: its status.schedulerObservedGeneration
// and its Scheduled condition's observedGeneration both reach it. The
// binding last read is left in t.binding.
func waitForScheduler(ctx context.Context, o Options, t target) error {
	gen := t.binding.GetGeneration()
	interval := o.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	key := client.ObjectKeyFromObject(t.binding)
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, interval, o.Timeout, true, func(ctx context.Context) (bool, error) {
		if err := o.Client.Get(ctx, key, t.binding); err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("%s was deleted while waiting for the scheduler", t.bindingString())
			}
			lastErr = err // perhaps passing: read again
			return false, nil
		}
		lastErr = nil
		st := t.binding.GetBindingStatus()
		cond := meta.FindStatusCondition(st.Conditions, workv1alpha1.ConditionScheduled)
		return st.SchedulerObservedGeneration >= gen && cond != nil && cond.ObservedGeneration >= gen, nil
	})
	if err == nil {
		return nil
	}
	if wait.Interrupted(err) && ctx.Err() == nil {
		msg := fmt.Sprintf("the scheduler did not act on %s within %s (generation %d, the scheduler observed %d); is flotilla hub running? flotilla describe %s shows more",
			t.bindingString(), o.Timeout, gen, t.binding.GetBindingStatus().SchedulerObservedGeneration, t.what)
		if lastErr != nil {
			return fmt.Errorf("%s: %w", msg, lastErr)
		}
		return errors.New(msg)
	}
	return err
}

// scheduledError is nil when the binding's Scheduled condition is True, and
// otherwise says why it is not.
func scheduledError(t target) error {
	cond := meta.FindStatusCondition(t.binding.GetBindingStatus().Conditions, workv1alpha1.ConditionScheduled)
	if cond == nil || cond.Status == metav1.ConditionTrue {
		return nil
	}
	msg := fmt.Sprintf("%s is not scheduled (%s): %s", t.bindingString(), cond.Reason, cond.Message)
	if cl := t.binding.GetSpec().Clusters; len(cl) > 0 {
		var names []string
		for _, c := range cl {
			names = append(names, c.Name)
		}
		msg += "; it keeps running on " + strings.Join(names, ", ")
	}
	return errors.New(msg)
}

// printPlacement writes the scheduler's decision, one indented line per
// cluster, under the line that requested it.
func printPlacement(w io.Writer, b workv1alpha1.Binding) {
	spec := b.GetSpec()
	if len(spec.Clusters) == 0 {
		fmt.Fprintln(w, "  <none>: no cluster runs it")
		return
	}
	for _, c := range spec.Clusters {
		if spec.Replicas == 0 && c.Replicas == 0 {
			// A kind without replicas: the cluster runs the object.
			fmt.Fprintf(w, "  %s\n", c.Name)
			continue
		}
		fmt.Fprintf(w, "  %s: %d replicas\n", c.Name, c.Replicas)
	}
}

func kindOf(b workv1alpha1.Binding) string {
	if _, ok := b.(*workv1alpha1.ResourceBinding); ok {
		return "ResourceBinding"
	}
	return "ClusterResourceBinding"
}
