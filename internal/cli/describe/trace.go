package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// Trace follows one template on the hub through the policy that claimed it
// and its binding to the clusters that run it. `flotilla describe KIND NAME
// -o json|yaml` prints it.
type Trace struct {
	// template is the object on the hub.
	Template Template `json:"template"`
	// policy is the policy that claimed the template, from its
	// policy.flotilla.io/claimed-by annotation, as
	// PropagationPolicy/NAMESPACE/NAME or ClusterPropagationPolicy/NAME;
	// empty when no policy selects it.
	Policy string `json:"policy,omitempty"`
	// binding is where the template's binding is, or would be.
	Binding Binding `json:"binding"`

	// Events of the template and of its binding; printed as text only.
	Events []corev1.Event `json:"-"`
}

// Template is a template on the hub.
type Template struct {
	workv1alpha1.ObjectReference `json:",inline"`
	// found is false when only the binding remains of the template.
	Found bool `json:"found"`
	// replicas is the template's spec.replicas, for kinds that have one.
	Replicas *int64 `json:"replicas,omitempty"`
	// status summarises the template's own status, such as "2/3 ready".
	Status string `json:"status,omitempty"`
}

// Binding is the ResourceBinding or ClusterResourceBinding of a template.
type Binding struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// found is false when the hub has not created the binding (yet).
	Found bool `json:"found"`
	// stale is true when the binding was made for an earlier template of
	// the same name (its spec.resource.uid differs).
	Stale  bool                        `json:"stale,omitempty"`
	Spec   *workv1alpha1.BindingSpec   `json:"spec,omitempty"`
	Status *workv1alpha1.BindingStatus `json:"status,omitempty"`
}

// TraceTemplate traces the template of kind gvk named name; namespace is
// "" for cluster-scoped kinds.
func TraceTemplate(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, namespace, name string) (*Trace, error) {
	u, err := getTemplate(ctx, c, gvk, namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			where := ""
			if namespace != "" {
				where = " in namespace " + namespace
			}
			return nil, fmt.Errorf("%s %q not found%s", strings.ToLower(gvk.Kind), name, where)
		}
		return nil, fmt.Errorf("get %s %s: %w", strings.ToLower(gvk.Kind), name, err)
	}
	tr := &Trace{Template: templateOf(u), Policy: u.GetAnnotations()[workv1alpha1.AnnotationPolicy]}
	tr.Binding, err = getBinding(ctx, c, namespace, workv1alpha1.BindingName(name, gvk.Kind))
	if err != nil {
		return nil, err
	}
	if b := tr.Binding; b.Found && b.Spec.Resource.UID != "" && b.Spec.Resource.UID != string(u.GetUID()) {
		tr.Binding.Stale = true
	}
	tr.Events = append(listEvents(ctx, c, gvk.Kind, namespace, name), listEvents(ctx, c, tr.Binding.Kind, namespace, tr.Binding.Name)...)
	return tr, nil
}

// TraceBinding traces the template of the binding named name: a
// ResourceBinding in namespace, or a ClusterResourceBinding when namespace
// is "".
func TraceBinding(ctx context.Context, c client.Client, namespace, name string) (*Trace, error) {
	b, err := getBinding(ctx, c, namespace, name)
	if err != nil {
		return nil, err
	}
	if !b.Found {
		if namespace == "" {
			return nil, fmt.Errorf("clusterresourcebinding %q not found", name)
		}
		return nil, fmt.Errorf("resourcebinding %q not found in namespace %s", name, namespace)
	}
	ref := b.Spec.Resource
	tr := &Trace{Binding: b, Template: Template{ObjectReference: ref}}
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	u, err := getTemplate(ctx, c, gvk, namespace, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		tr.Policy = policyString(b.Spec.Policy)
	case err != nil:
		return nil, fmt.Errorf("get %s %s: %w", strings.ToLower(ref.Kind), ref.Name, err)
	default:
		tr.Template = templateOf(u)
		tr.Policy = u.GetAnnotations()[workv1alpha1.AnnotationPolicy]
		tr.Binding.Stale = ref.UID != "" && ref.UID != string(u.GetUID())
	}
	tr.Events = append(listEvents(ctx, c, ref.Kind, namespace, ref.Name), listEvents(ctx, c, b.Kind, namespace, b.Name)...)
	return tr, nil
}

func getTemplate(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
}

// getBinding reads a ResourceBinding, or a ClusterResourceBinding when
// namespace is "". A missing binding is no error: Found is false.
func getBinding(ctx context.Context, c client.Client, namespace, name string) (Binding, error) {
	b := Binding{Kind: "ResourceBinding", Namespace: namespace, Name: name}
	if namespace == "" {
		b.Kind = "ClusterResourceBinding"
	}
	obj := workv1alpha1.NewBinding(namespace != "")
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return b, nil
		}
		return b, fmt.Errorf("get %s %s: %w", strings.ToLower(b.Kind), name, err)
	}
	b.Found, b.Spec, b.Status = true, obj.GetSpec(), obj.GetBindingStatus()
	return b, nil
}

// listEvents returns the events about one object; namespace is "" for
// cluster-scoped objects, whose events may be in any namespace. Events are
// a help, so failing to list them is no error.
func listEvents(ctx context.Context, c client.Client, kind, namespace, name string) []corev1.Event {
	var evs corev1.EventList
	_ = c.List(ctx, &evs, client.InNamespace(namespace),
		client.MatchingFields{"involvedObject.kind": kind, "involvedObject.name": name})
	return evs.Items
}

func templateOf(u *unstructured.Unstructured) Template {
	t := Template{
		ObjectReference: workv1alpha1.ObjectReference{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
			Namespace: u.GetNamespace(), Name: u.GetName(), UID: string(u.GetUID())},
		Found: true,
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		if r, ok := toInt64(spec["replicas"]); ok {
			t.Replicas = &r
		}
	}
	t.Status = statusSummary(u.Object)
	return t
}

// statusSummary condenses the status fields common to workloads: replica
// counts, job counts, a phase and conditions.
func statusSummary(obj map[string]any) string {
	st, _ := obj["status"].(map[string]any)
	if len(st) == 0 {
		return ""
	}
	var parts []string
	ready, hasReady := toInt64(st["readyReplicas"])
	total, hasTotal := toInt64(st["replicas"])
	if hasReady || hasTotal {
		if spec, ok := obj["spec"].(map[string]any); ok {
			if r, ok := toInt64(spec["replicas"]); ok {
				total = r
			}
		}
		parts = append(parts, fmt.Sprintf("%d/%d ready", ready, total))
	} else if want, ok := toInt64(st["desiredNumberScheduled"]); ok { // DaemonSet
		n, _ := toInt64(st["numberReady"])
		parts = append(parts, fmt.Sprintf("%d/%d ready", n, want))
	}
	for _, f := range []struct{ field, label string }{
		{"updatedReplicas", "updated"}, {"availableReplicas", "available"},
		{"active", "active"}, {"succeeded", "succeeded"}, {"failed", "failed"},
	} {
		if n, ok := toInt64(st[f.field]); ok {
			parts = append(parts, fmt.Sprintf("%d %s", n, f.label))
		}
	}
	if p, ok := st["phase"].(string); ok && p != "" {
		parts = append(parts, "phase "+p)
	}
	var conds []string
	if cs, ok := st["conditions"].([]any); ok {
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				conds = append(conds, fmt.Sprintf("%v=%v", m["type"], m["status"]))
			}
		}
	}
	sort.Strings(conds)
	s := strings.Join(parts, ", ")
	if len(conds) > 0 {
		if s != "" {
			s += "; "
		}
		s += strings.Join(conds, ", ")
	}
	return s
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// policyString names a policy the way the claimed-by annotation does.
func policyString(p workv1alpha1.PolicyReference) string {
	switch {
	case p.Name == "":
		return ""
	case p.Namespace != "":
		return p.Kind + "/" + p.Namespace + "/" + p.Name
	}
	return p.Kind + "/" + p.Name
}
