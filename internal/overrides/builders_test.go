package overrides

import (
	"encoding/json"
	"errors"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// templateWrapper builds test templates:
// MakeTemplate("apps/v1", "Deployment", "default", "web").Container("web", "nginx:1.25").Obj().
type templateWrapper struct {
	u       *unstructured.Unstructured
	podSpec []string
}

func MakeTemplate(apiVersion, kind, namespace, name string) *templateWrapper {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return &templateWrapper{u: u, podSpec: podSpecPaths[u.GroupVersionKind().GroupKind()]}
}

func MakeDeployment(namespace, name string) *templateWrapper {
	return MakeTemplate("apps/v1", "Deployment", namespace, name).Set(int64(3), "spec", "replicas")
}

func (w *templateWrapper) Labels(l map[string]string) *templateWrapper {
	w.u.SetLabels(l)
	return w
}

func (w *templateWrapper) Annotations(a map[string]string) *templateWrapper {
	w.u.SetAnnotations(a)
	return w
}

// Set sets a field; value must be a JSON value (int64, not int).
func (w *templateWrapper) Set(value any, fields ...string) *templateWrapper {
	if err := unstructured.SetNestedField(w.u.Object, value, fields...); err != nil {
		panic(err)
	}
	return w
}

func (w *templateWrapper) addContainer(list, name, image string) *templateWrapper {
	path := append(append([]string{}, w.podSpec...), list)
	items, _, _ := unstructured.NestedSlice(w.u.Object, path...)
	c := map[string]any{"name": name}
	if image != "" {
		c["image"] = image
	}
	return w.Set(append(items, c), path...)
}

func (w *templateWrapper) Container(name, image string) *templateWrapper {
	return w.addContainer("containers", name, image)
}

func (w *templateWrapper) InitContainer(name, image string) *templateWrapper {
	return w.addContainer("initContainers", name, image)
}

// List sets the command or args of the container at index i of list.
func (w *templateWrapper) List(list string, i int, field string, values ...string) *templateWrapper {
	path := append(append([]string{}, w.podSpec...), list)
	items, _, _ := unstructured.NestedSlice(w.u.Object, path...)
	vs := make([]any, len(values))
	for j, v := range values {
		vs[j] = v
	}
	items[i].(map[string]any)[field] = vs
	return w.Set(items, path...)
}

func (w *templateWrapper) Obj() *unstructured.Unstructured { return w.u.DeepCopy() }

// policyWrapper builds test policies:
// MakeOverridePolicy("default", "web").Select(deployments()).Rule(nil, overriders).Policy().
type policyWrapper struct {
	kind, namespace, name string
	deleting              bool
	spec                  policyv1alpha1.OverrideSpec
}

func MakeOverridePolicy(namespace, name string) *policyWrapper {
	return &policyWrapper{kind: KindOverridePolicy, namespace: namespace, name: name}
}

func MakeClusterOverridePolicy(name string) *policyWrapper {
	return &policyWrapper{kind: KindClusterOverridePolicy, name: name}
}

func (w *policyWrapper) Select(sels ...policyv1alpha1.ResourceSelector) *policyWrapper {
	w.spec.ResourceSelectors = append(w.spec.ResourceSelectors, sels...)
	return w
}

func (w *policyWrapper) Rule(target *policyv1alpha1.ClusterAffinity, o policyv1alpha1.Overriders) *policyWrapper {
	w.spec.OverrideRules = append(w.spec.OverrideRules, policyv1alpha1.RuleWithCluster{TargetCluster: target, Overriders: o})
	return w
}

func (w *policyWrapper) Deleting() *policyWrapper {
	w.deleting = true
	return w
}

func (w *policyWrapper) meta() metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: w.namespace, Name: w.name}
	if w.deleting {
		now := metav1.Now()
		m.DeletionTimestamp = &now
	}
	return m
}

// Policy is the engine's view, with the specificity of a kind-only match.
func (w *policyWrapper) Policy() Policy {
	spec := w.spec.DeepCopy()
	return Policy{Kind: w.kind, Namespace: w.namespace, Name: w.name, Specificity: SpecificityKind, Spec: spec}
}

func (w *policyWrapper) OP() policyv1alpha1.OverridePolicy {
	return policyv1alpha1.OverridePolicy{ObjectMeta: w.meta(), Spec: *w.spec.DeepCopy()}
}

func (w *policyWrapper) COP() policyv1alpha1.ClusterOverridePolicy {
	return policyv1alpha1.ClusterOverridePolicy{ObjectMeta: w.meta(), Spec: *w.spec.DeepCopy()}
}

func deployments() policyv1alpha1.ResourceSelector {
	return policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}
}

func named(name string) policyv1alpha1.ResourceSelector {
	s := deployments()
	s.Name = name
	return s
}

func labelled(k, v string) policyv1alpha1.ResourceSelector {
	s := deployments()
	s.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	return s
}

// Overrider shorthands.

func image(component policyv1alpha1.ImageComponent, op policyv1alpha1.OverriderOperator, value string) policyv1alpha1.ImageOverrider {
	return policyv1alpha1.ImageOverrider{Component: component, Operator: op, Value: value}
}

func plain(op policyv1alpha1.OverriderOperator, path string, value any) policyv1alpha1.PlaintextOverrider {
	o := policyv1alpha1.PlaintextOverrider{Operator: op, Path: path}
	if value != nil {
		raw, err := json.Marshal(value)
		if err != nil {
			panic(err)
		}
		o.Value = &apiextensionsv1.JSON{Raw: raw}
	}
	return o
}

func replicas(n int) policyv1alpha1.Overriders {
	return policyv1alpha1.Overriders{Plaintext: []policyv1alpha1.PlaintextOverrider{plain(policyv1alpha1.OverriderOpReplace, "/spec/replicas", n)}}
}

// MakeCluster builds a test Cluster.
func MakeCluster(name string, labels map[string]string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

const (
	add     = policyv1alpha1.OverriderOpAdd
	remove  = policyv1alpha1.OverriderOpRemove
	replace = policyv1alpha1.OverriderOpReplace

	registry   = policyv1alpha1.ImageComponentRegistry
	repository = policyv1alpha1.ImageComponentRepository
	tag        = policyv1alpha1.ImageComponentTag
)

func asRuleError(err error, target **RuleError) bool { return errors.As(err, target) }
