package describe

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// Unclaimed is what describe says of a template no policy claimed.
const Unclaimed = "none: no PropagationPolicy or ClusterPropagationPolicy selects this template"

// PrintTrace writes the description of a template: what it is, the policy
// that claimed it, the scheduler's decision, each cluster's result, its
// dependencies and recent events.
func PrintTrace(w io.Writer, tr *Trace, now time.Time) error {
	t, b := tr.Template, tr.Binding
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	kv := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	kv("Name", t.Name)
	if t.Namespace != "" {
		kv("Namespace", t.Namespace)
	}
	kv("Kind", fmt.Sprintf("%s (%s)", t.Kind, t.APIVersion))
	if !t.Found {
		kv("Template", "<not found>: the template is gone from the hub; its binding remains until the hub removes it")
	}
	if t.Replicas != nil {
		kv("Replicas", strconv.FormatInt(*t.Replicas, 10))
	}
	if t.Status != "" {
		kv("Status", t.Status)
	}
	policy := tr.Policy
	if policy == "" {
		policy = Unclaimed
	}
	if b.Found && t.Found {
		if bp := policyString(b.Spec.Policy); bp != "" && bp != tr.Policy {
			policy += "; the binding still names " + bp
		}
	}
	kv("Policy", policy)
	kv("Binding", bindingLine(tr))
	if err := tw.Flush(); err != nil {
		return err
	}
	if b.Found {
		printScheduling(w, b.Spec, b.Status, now)
		printEvictions(w, b.Spec, now)
		printClusters(w, b.Spec, b.Status, now)
		printOverrides(w, b.Status)
		printDependencies(w, b.Spec, b.Status)
	}
	return printEvents(w, tr.Events, now, true)
}

func bindingLine(tr *Trace) string {
	b := tr.Binding
	ref := b.Kind + " " + b.Name
	if b.Namespace != "" {
		ref = b.Kind + " " + b.Namespace + "/" + b.Name
	}
	switch {
	case b.Stale:
		return fmt.Sprintf("%s, made for an earlier %s of this name (uid %s); the hub has not caught up with the new one yet",
			ref, tr.Template.Kind, b.Spec.Resource.UID)
	case b.Found:
		return ref
	case tr.Policy == "":
		return "<none>: a template is bound only once a policy selects it"
	}
	return fmt.Sprintf("<none>: the hub has not created %s yet; is `flotilla hub` running?", ref)
}

func printScheduling(w io.Writer, spec *workv1alpha1.BindingSpec, st *workv1alpha1.BindingStatus, now time.Time) {
	fmt.Fprintln(w, "Scheduling:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  Scheduled:\t%s\n", conditionLine(st.Conditions, workv1alpha1.ConditionScheduled, now))
	if s := suspension(spec); s != "" {
		fmt.Fprintf(tw, "  Suspended:\t%s\n", s)
	}
	_ = tw.Flush()
	if len(st.Decisions) == 0 {
		fmt.Fprintln(w, "  <no decisions recorded>")
		return
	}
	replicas := hasReplicas(spec)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLUSTER\tCHOSEN\tREPLICAS\tREASON")
	for _, d := range st.Decisions {
		n := "-"
		if d.Chosen && replicas {
			n = strconv.Itoa(int(d.Replicas))
		}
		fmt.Fprintf(tw, "  %s\t%t\t%s\t%s\n", d.Cluster, d.Chosen, n, oneLine(d.Reason))
	}
	_ = tw.Flush()
}

// suspension says which clusters changes are held back from; "" when none.
func suspension(spec *workv1alpha1.BindingSpec) string {
	s := spec.Suspension
	switch {
	case s == nil:
		return ""
	case s.Dispatching != nil && *s.Dispatching:
		return "changes reach no cluster"
	case s.DispatchingOnClusters != nil && len(s.DispatchingOnClusters.ClusterNames) > 0:
		return "changes do not reach " + strings.Join(s.DispatchingOnClusters.ClusterNames, ",")
	}
	return ""
}

func printClusters(w io.Writer, spec *workv1alpha1.BindingSpec, st *workv1alpha1.BindingStatus, now time.Time) {
	fmt.Fprintln(w, "Clusters:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  Applied:\t%s\n", conditionLine(st.Conditions, workv1alpha1.ConditionApplied, now))
	fmt.Fprintf(tw, "  Healthy:\t%s\n", conditionLine(st.Conditions, workv1alpha1.ConditionHealthy, now))
	_ = tw.Flush()

	status := map[string]*workv1alpha1.ClusterStatus{}
	for i := range st.Clusters {
		status[st.Clusters[i].Cluster] = &st.Clusters[i]
	}
	type row struct {
		name, replicas string
		cs             *workv1alpha1.ClusterStatus
	}
	var rows []row
	scheduled := map[string]bool{}
	replicas := hasReplicas(spec)
	for _, t := range spec.Clusters {
		scheduled[t.Name] = true
		n := "-"
		if replicas {
			n = strconv.Itoa(int(t.Replicas))
		}
		rows = append(rows, row{t.Name, n, status[t.Name]})
	}
	// Clusters the template is leaving still report until it is removed.
	for i := range st.Clusters {
		if cs := &st.Clusters[i]; !scheduled[cs.Cluster] {
			n := "-"
			if replicas {
				n = "0"
			}
			rows = append(rows, row{cs.Cluster, n + " (leaving)", cs})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "  <none>: no cluster runs this template")
		return
	}
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLUSTER\tREPLICAS\tAPPLIED\tHEALTH\tREADY\tMESSAGE")
	for _, r := range rows {
		applied, health, ready, msg := "Pending", "-", "-", "the hub has not applied the template here yet"
		if cs := r.cs; cs != nil {
			applied = "False"
			if cs.Applied {
				applied = "True"
			}
			if cs.Reason != "" {
				applied += " (" + cs.Reason + ")"
			}
			if cs.Health != "" {
				health = cs.Health
			}
			if rd, n, ok := get.WorkloadReplicas(cs.Status); ok {
				ready = fmt.Sprintf("%d/%d", rd, n)
			}
			if cs.Message != "" {
				msg = oneLine(cs.Message)
			} else {
				msg = "-"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.replicas, applied, health, ready, msg)
	}
	_ = tw.Flush()
}

// printEvictions lists the clusters the template is failing over from.
func printEvictions(w io.Writer, spec *workv1alpha1.BindingSpec, now time.Time) {
	if len(spec.Evictions) == 0 {
		return
	}
	fmt.Fprintln(w, "Evictions:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLUSTER\tREPLICAS\tREASON\tAGE\tREMOVED BY\tMESSAGE")
	for _, e := range spec.Evictions {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", e.Cluster, e.Replicas, e.Reason, output.Age(e.CreationTimestamp.Time, now),
			e.Deadline.UTC().Format(time.RFC3339), oneLine(e.Message))
	}
	_ = tw.Flush()
}

// printOverrides shows, per cluster, the override policies applied to its
// object and what each changed.
func printOverrides(w io.Writer, st *workv1alpha1.BindingStatus) {
	has := false
	for _, cs := range st.Clusters {
		has = has || len(cs.Overrides) > 0
	}
	if !has {
		return
	}
	fmt.Fprintln(w, "Overrides:")
	for _, cs := range st.Clusters {
		if len(cs.Overrides) == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s:\n", cs.Cluster)
		for _, o := range cs.Overrides {
			if len(o.Changes) == 0 {
				fmt.Fprintf(w, "    %s: no change\n", o.Policy)
				continue
			}
			fmt.Fprintf(w, "    %s:\n", o.Policy)
			for _, c := range o.Changes {
				fmt.Fprintf(w, "      %s\n", oneLine(c))
			}
		}
	}
}

func printDependencies(w io.Writer, spec *workv1alpha1.BindingSpec, st *workv1alpha1.BindingStatus) {
	var deps []string
	seen := map[string]bool{}
	for _, d := range spec.Dependencies {
		if k := d.Kind + "/" + d.Name; !seen[k] {
			seen[k] = true
			deps = append(deps, k)
		}
	}
	where := map[string][]string{}
	for _, cs := range st.Clusters {
		for _, d := range cs.Dependencies {
			if !seen[d] {
				seen[d] = true
				deps = append(deps, d)
			}
			where[d] = append(where[d], cs.Cluster)
		}
	}
	if len(deps) == 0 {
		return
	}
	fmt.Fprintln(w, "Dependencies:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  OBJECT\tAPPLIED IN")
	for _, d := range deps {
		in := strings.Join(where[d], ",")
		if in == "" {
			in = "<none yet>"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", d, in)
	}
	_ = tw.Flush()
}

// conditionLine is one condition as "Status (Reason), AGE ago: message".
func conditionLine(conds []metav1.Condition, t string, now time.Time) string {
	c := meta.FindStatusCondition(conds, t)
	if c == nil {
		return "<unknown>: not reported yet"
	}
	s := fmt.Sprintf("%s (%s), %s ago", c.Status, c.Reason, output.Age(c.LastTransitionTime.Time, now))
	if c.Message != "" {
		s += ": " + oneLine(c.Message)
	}
	return s
}

func hasReplicas(spec *workv1alpha1.BindingSpec) bool {
	if spec.Replicas > 0 {
		return true
	}
	for _, t := range spec.Clusters {
		if t.Replicas > 0 {
			return true
		}
	}
	return false
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\t", " ").Replace(strings.TrimSpace(s))
}
