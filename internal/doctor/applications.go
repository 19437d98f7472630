package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

// maxFixes bounds the commands a check suggests; the evidence lists the rest.
const maxFixes = 5

func checkPoliciesClaim(ctx context.Context, e *Env) Result {
	pols, err := e.listPolicies(ctx)
	if err != nil {
		return cannotRead("propagation policies", err)
	}
	if len(pols) == 0 {
		return skip("no propagation policy to check", "there is no PropagationPolicy or ClusterPropagationPolicy on the hub")
	}
	binds, err := e.listBindings(ctx)
	if err != nil {
		return cannotRead("bindings", err)
	}
	claims := map[string]int{}
	for _, b := range binds {
		claims[policyString(b.GetSpec().Policy)]++
	}
	var ev, idle []string
	for _, p := range pols {
		n := claims[p.String()]
		if n == 0 {
			idle = append(idle, p.String())
			ev = append(ev, fmt.Sprintf("%s: claims no template (selects %s)", p, selectors(p.spec.ResourceSelectors)))
			continue
		}
		ev = append(ev, fmt.Sprintf("%s: claims %s", p, plural(n, "template", "templates")))
	}
	if len(idle) > 0 {
		return fail(fmt.Sprintf("%d of %s %s no template: %s", len(idle), plural(len(pols), "policy", "policies"), verb(len(idle), "claims", "claim"), strings.Join(idle, ", ")),
			"check spec.resourceSelectors (apiVersion, kind, name, labelSelector) against the templates on the hub; "+
				"a template another policy outranks is not claimed either (see flotilla describe KIND/NAME)", ev...)
	}
	return pass(all(len(pols), "policy", "policies", "claims a template", "claim at least one template"), ev...)
}

// selectors renders resource selectors for a human:
// "apps/v1 Deployment name=web; v1 ConfigMap labels app=web".
func selectors(sels []policyv1alpha1.ResourceSelector) string {
	out := make([]string, 0, len(sels))
	for _, s := range sels {
		x := s.APIVersion + " " + s.Kind
		if s.Namespace != "" {
			x += " namespace=" + s.Namespace
		}
		if s.Name != "" {
			x += " name=" + s.Name
		}
		if s.LabelSelector != nil {
			x += " labels " + metav1.FormatLabelSelector(s.LabelSelector)
		}
		out = append(out, x)
	}
	return strings.Join(out, "; ")
}

// bindingState classifies a binding's Scheduled and Applied conditions.
type bindingState int

const (
	bindingOK bindingState = iota
	// bindingPending: not scheduled or applied yet, or suspended.
	bindingPending
	// bindingFailed: unschedulable, or an apply that failed.
	bindingFailed
)

func classifyBinding(b workv1alpha1.Binding) (bindingState, string) {
	conds := b.GetBindingStatus().Conditions
	sched := meta.FindStatusCondition(conds, workv1alpha1.ConditionScheduled)
	applied := meta.FindStatusCondition(conds, workv1alpha1.ConditionApplied)
	describe := func(c *metav1.Condition) string {
		return fmt.Sprintf("%s=%s (%s): %s", c.Type, c.Status, c.Reason, truncate(c.Message, 200))
	}
	switch {
	case sched == nil || sched.Status == metav1.ConditionUnknown:
		return bindingPending, "not scheduled yet"
	case sched.Status == metav1.ConditionFalse:
		// NoClusterFits, FailoverBlocked or SchedulerError: it runs nowhere
		// new until someone acts.
		return bindingFailed, describe(sched)
	case applied == nil || applied.Status == metav1.ConditionUnknown:
		return bindingPending, "not applied yet"
	case applied.Status == metav1.ConditionTrue:
		return bindingOK, ""
	case applied.Reason == workv1alpha1.ReasonPending || applied.Reason == workv1alpha1.ReasonSuspended:
		return bindingPending, describe(applied)
	}
	return bindingFailed, describe(applied)
}

// describeCommand is the flotilla describe command for a binding's template.
func describeCommand(b workv1alpha1.Binding) string {
	r := b.GetSpec().Resource
	cmd := "flotilla describe " + strings.ToLower(r.Kind) + "/" + r.Name
	if ns := b.GetNamespace(); ns != "" {
		cmd += " -n " + ns
	}
	return cmd
}

func checkBindings(ctx context.Context, e *Env) Result {
	binds, err := e.listBindings(ctx)
	if err != nil {
		return cannotRead("bindings", err)
	}
	if len(binds) == 0 {
		return skip("no binding to check", "there is no ResourceBinding or ClusterResourceBinding on the hub (no template is propagated)")
	}
	var failed, pending, okEv, failedFix, pendingFix []string
	for _, b := range binds {
		st, why := classifyBinding(b)
		r := b.GetSpec().Resource
		name := fmt.Sprintf("%s (%s %s)", bindingName(b), r.Kind, r.Name)
		switch st {
		case bindingOK:
			okEv = append(okEv, name+": scheduled to "+targets(b.GetSpec().Clusters)+", applied")
		case bindingPending:
			pending = append(pending, name+": "+why)
			pendingFix = append(pendingFix, describeCommand(b))
		case bindingFailed:
			failed = append(failed, name+": "+why)
			failedFix = append(failedFix, describeCommand(b))
		}
	}
	if len(failed) > 0 {
		return fail(fmt.Sprintf("%d of %s %s unschedulable or failed to apply", len(failed), plural(len(binds), "binding", "bindings"), verb(len(failed), "is", "are")),
			strings.Join(capLines(failedFix, maxFixes), "\n"), append(failed, pending...)...)
	}
	if len(pending) > 0 {
		return warn(fmt.Sprintf("%d of %s %s not scheduled or applied yet, or suspended", len(pending), plural(len(binds), "binding", "bindings"), verb(len(pending), "is", "are")),
			"the hub may still be working on them: run flotilla doctor again; if they stay, check that the hub's controllers run\n"+
				strings.Join(capLines(pendingFix, maxFixes), "\n"), pending...)
	}
	return pass(all(len(binds), "binding", "bindings", "is scheduled and applied", "are scheduled and applied"), okEv...)
}

// targets renders a scheduling decision as cluster:replicas,...
func targets(ts []workv1alpha1.TargetCluster) string {
	if len(ts) == 0 {
		return "no cluster"
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
		if t.Replicas > 0 {
			out[i] += fmt.Sprintf(":%d", t.Replicas)
		}
	}
	return strings.Join(out, ",")
}

// workloadKinds are the template kinds the unclaimed-templates check
// lists: the ones that run something.
var workloadKinds = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
}

// systemNamespace reports namespaces whose objects are never templates.
func systemNamespace(ns string) bool {
	return strings.HasPrefix(ns, "kube-") || ns == member.Namespace
}

func checkUnclaimedTemplates(ctx context.Context, e *Env) Result {
	var unclaimed []string
	checked := 0
	for _, gvk := range workloadKinds {
		var l metav1.PartialObjectMetadataList
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := e.Client.List(ctx, &l); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return cannotRead(strings.ToLower(gvk.Kind)+"s", err)
		}
		for _, o := range l.Items {
			if systemNamespace(o.Namespace) || metav1.GetControllerOf(&o) != nil {
				continue
			}
			checked++
			if o.Annotations[workv1alpha1.AnnotationPolicy] == "" {
				unclaimed = append(unclaimed, fmt.Sprintf("%s %s/%s", gvk.Kind, o.Namespace, o.Name))
			}
		}
	}
	sort.Strings(unclaimed)
	kinds := "Deployments, StatefulSets, DaemonSets, Jobs and CronJobs"
	if len(unclaimed) > 0 {
		return warn(fmt.Sprintf("%s on the hub no policy claims: they run nowhere", plural(len(unclaimed), "workload", "workloads")),
			"if they should run in the fleet, select them with a PropagationPolicy (flotilla apply -f POLICY.yaml); objects meant to stay on the hub need nothing",
			unclaimed...)
	}
	if checked == 0 {
		return pass("no workload on the hub outside the system namespaces", "looked at "+kinds)
	}
	return pass(fmt.Sprintf("a policy claims every workload on the hub (%d)", checked), "looked at "+kinds)
}

func checkFailover(ctx context.Context, e *Env) Result {
	pols, err := e.listPolicies(ctx)
	if err != nil {
		return cannotRead("propagation policies", err)
	}
	binds, err := e.listBindings(ctx)
	if err != nil {
		return cannotRead("bindings", err)
	}
	var ev, moving, follow []string
	configured := 0
	for _, p := range pols {
		if f := p.spec.Failover; f != nil {
			configured++
			ev = append(ev, p.String()+": "+describeFailover(f))
		}
	}
	if configured == 0 {
		ev = append(ev, "no policy sets spec.failover: clusters that stay not Ready lose their templates after the hub's --cluster-failover-toleration (60s unless set); application failover is off")
	}
	for _, b := range binds {
		if len(b.GetSpec().Evictions) > 0 {
			follow = append(follow, describeCommand(b))
		}
		for _, x := range b.GetSpec().Evictions {
			moving = append(moving, fmt.Sprintf("%s: moved away from %s (%s) at %s, recorded until %s: %s", bindingName(b), x.Cluster, x.Reason,
				x.CreationTimestamp.UTC().Format(time.RFC3339), x.Deadline.UTC().Format(time.RFC3339), truncate(x.Message, 160)))
		}
	}
	disrupted := false
	switch s, err := e.metrics(ctx); {
	case err != nil:
		ev = append(ev, "hub metrics unavailable ("+metricsWhere(e)+"): cannot tell whether failover has moved templates since the hub started")
	default:
		n := s.Sum("flotilla_evictions_total")
		if n > 0 {
			ev = append(ev, fmt.Sprintf("flotilla_evictions_total = %g: failover has moved templates since the hub started", n))
		} else {
			ev = append(ev, "flotilla_evictions_total = 0: failover has not moved any template since the hub started (exercise it with flotilla cordon --drain CLUSTER)")
		}
		if s.Sum("flotilla_fleet_disrupted") > 0 {
			disrupted = true
			ev = append(ev, "flotilla_fleet_disrupted = 1: most of the fleet is not Ready, so failover is paused")
		}
	}
	summary := plural(configured, "policy configures", "policies configure") + " failover"
	if configured == 0 {
		summary = "no policy configures failover; the hub's default toleration applies"
	}
	switch {
	case disrupted:
		return warn("failover is paused: most of the fleet is not Ready",
			"bring the clusters back (see clusters-ready); failover resumes by itself once most of the fleet is Ready", append(moving, ev...)...)
	case len(moving) > 0:
		return warn(plural(len(moving), "template was", "templates were")+" recently moved away from a cluster (failover or drain)",
			"follow the moves; once the cluster is Ready (and uncordoned) again, flotilla rebalance KIND/NAME moves replicas back, unless failback is Automatic\n"+
				strings.Join(capLines(follow, maxFixes), "\n"),
			append(moving, ev...)...)
	}
	return pass(summary+"; no template was moved recently", ev...)
}

func describeFailover(f *policyv1alpha1.FailoverBehavior) string {
	var parts []string
	if f.Cluster != nil && f.Cluster.TolerationSeconds != nil {
		parts = append(parts, fmt.Sprintf("cluster toleration %ds", *f.Cluster.TolerationSeconds))
	} else {
		parts = append(parts, "cluster toleration: the hub's default")
	}
	if f.Application != nil {
		parts = append(parts, fmt.Sprintf("application failover after %ds", f.Application.TolerationSeconds))
	}
	if f.GracePeriodSeconds != nil {
		parts = append(parts, fmt.Sprintf("grace period %ds", *f.GracePeriodSeconds))
	}
	mode := policyv1alpha1.FailbackManual
	if f.Failback != nil && f.Failback.Mode != "" {
		mode = f.Failback.Mode
	}
	parts = append(parts, "failback "+string(mode))
	return strings.Join(parts, ", ")
}
