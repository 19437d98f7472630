package get

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// bindingKind is what differs between the two kinds when printing.
type bindingKind struct {
	kind     string // ResourceBinding
	singular string // resourcebinding
}

var (
	resourceBindingKind        = bindingKind{"ResourceBinding", "resourcebinding"}
	clusterResourceBindingKind = bindingKind{"ClusterResourceBinding", "clusterresourcebinding"}
)

// ResourceBindings prints the ResourceBindings of namespace, or of every
// namespace when namespace is "", all of them or the named ones.
func ResourceBindings(ctx context.Context, c client.Client, w io.Writer, namespace string, names []string, format string, now time.Time) error {
	var items []workv1alpha1.Binding
	if len(names) == 0 {
		var list workv1alpha1.ResourceBindingList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return listError(err, "resourcebindings")
		}
		for i := range list.Items {
			items = append(items, &list.Items[i])
		}
	} else {
		if namespace == "" {
			return fmt.Errorf("a resourcebinding cannot be retrieved by name across all namespaces; name its namespace with -n")
		}
		var missing []string
		for _, n := range names {
			b := &workv1alpha1.ResourceBinding{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: n}, b); err != nil {
				if apierrors.IsNotFound(err) {
					missing = append(missing, n)
					continue
				}
				return listError(err, "resourcebindings")
			}
			items = append(items, b)
		}
		if len(missing) > 0 {
			return fmt.Errorf("resourcebinding %s not found in namespace %s", strings.Join(missing, ", "), namespace)
		}
	}
	empty := fmt.Sprintf("No ResourceBindings in namespace %s.", namespace)
	if namespace == "" {
		empty = "No ResourceBindings in any namespace."
	}
	return printBindings(w, resourceBindingKind, items, namespace == "", format, now,
		empty+" The hub binds a template when a PropagationPolicy or ClusterPropagationPolicy selects it.")
}

// ClusterResourceBindings prints ClusterResourceBindings, all of them or the
// named ones.
func ClusterResourceBindings(ctx context.Context, c client.Client, w io.Writer, names []string, format string, now time.Time) error {
	var items []workv1alpha1.Binding
	if len(names) == 0 {
		var list workv1alpha1.ClusterResourceBindingList
		if err := c.List(ctx, &list); err != nil {
			return listError(err, "clusterresourcebindings")
		}
		for i := range list.Items {
			items = append(items, &list.Items[i])
		}
	} else {
		var missing []string
		for _, n := range names {
			b := &workv1alpha1.ClusterResourceBinding{}
			if err := c.Get(ctx, client.ObjectKey{Name: n}, b); err != nil {
				if apierrors.IsNotFound(err) {
					missing = append(missing, n)
					continue
				}
				return listError(err, "clusterresourcebindings")
			}
			items = append(items, b)
		}
		if len(missing) > 0 {
			return fmt.Errorf("clusterresourcebinding %s not found", strings.Join(missing, ", "))
		}
	}
	return printBindings(w, clusterResourceBindingKind, items, false, format, now,
		"No ClusterResourceBindings. The hub binds a cluster-scoped template when a ClusterPropagationPolicy selects it.")
}

func listError(err error, resource string) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("the hub does not serve the %s API; install or upgrade Flotilla on it with `flotilla install`", workv1alpha1.GroupVersion.Group)
	}
	return fmt.Errorf("list %s: %w", resource, err)
}

func printBindings(w io.Writer, k bindingKind, items []workv1alpha1.Binding, showNamespace bool, format string, now time.Time, empty string) error {
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	switch format {
	case output.JSON, output.YAML:
		objs := make([]runtime.Object, len(items))
		for i, b := range items {
			b.GetObjectKind().SetGroupVersionKind(workv1alpha1.GroupVersion.WithKind(k.kind))
			objs[i] = b
		}
		return output.PrintList(w, format, objs)
	case output.Name:
		for _, b := range items {
			fmt.Fprintf(w, "%s.%s/%s\n", k.singular, workv1alpha1.GroupVersion.Group, b.GetName())
		}
		return nil
	}
	if len(items) == 0 {
		fmt.Fprintln(w, empty)
		return nil
	}
	var cols []output.Column
	if showNamespace {
		cols = append(cols, output.Column{Header: "NAMESPACE"})
	}
	cols = append(cols, output.Column{Header: "NAME"}, output.Column{Header: "KIND"}, output.Column{Header: "TEMPLATE"},
		output.Column{Header: "POLICY"}, output.Column{Header: "CLUSTERS"}, output.Column{Header: "SCHEDULED"},
		output.Column{Header: "APPLIED"}, output.Column{Header: "AGE"},
		output.Column{Header: "READY", Wide: true}, output.Column{Header: "HEALTHY", Wide: true}, output.Column{Header: "REASON", Wide: true})
	rows := make([]output.Row, 0, len(items))
	for _, b := range items {
		row := BindingRow(b, now)
		if showNamespace {
			row = append(output.Row{b.GetNamespace()}, row...)
		}
		rows = append(rows, row)
	}
	return output.PrintTable(w, format == output.Wide, cols, rows)
}

// BindingRow is one binding's table cells, wide columns included, without
// the namespace.
func BindingRow(b workv1alpha1.Binding, now time.Time) output.Row {
	spec, status := b.GetSpec(), b.GetBindingStatus()
	var reasons []string
	for _, c := range status.Conditions {
		if c.Status != metav1.ConditionTrue {
			reasons = append(reasons, c.Type+"="+c.Reason)
		}
	}
	ready := "-"
	if r, ok := BindingReady(spec, status); ok {
		ready = r
	}
	return output.Row{
		b.GetName(), dash(spec.Resource.Kind), dash(spec.Resource.Name), dash(PolicyShort(spec.Policy)),
		dash(TargetClusters(spec)),
		conditionStatus(status.Conditions, workv1alpha1.ConditionScheduled),
		conditionStatus(status.Conditions, workv1alpha1.ConditionApplied),
		output.Age(b.GetCreationTimestamp().Time, now),
		ready, healthyClusters(spec, status), dash(strings.Join(reasons, ",")),
	}
}

// PolicyShort names a binding's policy in a table: Kind/name. A
// PropagationPolicy is always in its binding's namespace.
func PolicyShort(p workv1alpha1.PolicyReference) string {
	if p.Name == "" {
		return ""
	}
	return p.Kind + "/" + p.Name
}

// TargetClusters is the scheduling decision as cluster:replicas pairs, or
// only cluster names for templates without replicas.
func TargetClusters(spec *workv1alpha1.BindingSpec) string {
	withReplicas := spec.Replicas > 0
	for _, t := range spec.Clusters {
		withReplicas = withReplicas || t.Replicas > 0
	}
	out := make([]string, 0, len(spec.Clusters))
	for _, t := range spec.Clusters {
		if withReplicas {
			out = append(out, t.Name+":"+strconv.Itoa(int(t.Replicas)))
		} else {
			out = append(out, t.Name)
		}
	}
	return strings.Join(out, ",")
}

// BindingReady is the ready replicas the members report over the replicas
// the scheduler assigned, such as "2/3"; false when no member reports
// replicas.
func BindingReady(spec *workv1alpha1.BindingSpec, status *workv1alpha1.BindingStatus) (string, bool) {
	var desired, ready int64
	reported := false
	for _, t := range spec.Clusters {
		desired += int64(t.Replicas)
	}
	for _, cs := range status.Clusters {
		if r, _, ok := WorkloadReplicas(cs.Status); ok {
			ready += r
			reported = true
		}
	}
	if !reported {
		return "", false
	}
	return fmt.Sprintf("%d/%d", ready, desired), true
}

// WorkloadReplicas reads readyReplicas and replicas from the status a member
// reported; false when it reports neither.
func WorkloadReplicas(raw *runtime.RawExtension) (ready, replicas int64, ok bool) {
	if raw == nil || len(raw.Raw) == 0 {
		return 0, 0, false
	}
	var st struct {
		Replicas      *int64 `json:"replicas"`
		ReadyReplicas *int64 `json:"readyReplicas"`
	}
	if err := json.Unmarshal(raw.Raw, &st); err != nil || (st.Replicas == nil && st.ReadyReplicas == nil) {
		return 0, 0, false
	}
	if st.Replicas != nil {
		replicas = *st.Replicas
	}
	if st.ReadyReplicas != nil {
		ready = *st.ReadyReplicas
	}
	return ready, replicas, true
}

// healthyClusters counts the scheduled clusters that report Healthy, as
// "1/2".
func healthyClusters(spec *workv1alpha1.BindingSpec, status *workv1alpha1.BindingStatus) string {
	if len(spec.Clusters) == 0 {
		return "-"
	}
	health := map[string]string{}
	for _, cs := range status.Clusters {
		health[cs.Cluster] = cs.Health
	}
	n := 0
	for _, t := range spec.Clusters {
		if health[t.Name] == workv1alpha1.HealthHealthy {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(spec.Clusters))
}

func conditionStatus(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		return string(c.Status)
	}
	return "Unknown"
}
