package overrides

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// podSpecPaths are where the kinds with a pod template keep its spec. The
// image overrider without predicate, and the command and args overriders,
// change only these kinds.
var podSpecPaths = map[schema.GroupKind][]string{
	{Group: "", Kind: "Pod"}:             {"spec"},
	{Group: "apps", Kind: "Deployment"}:  {"spec", "template", "spec"},
	{Group: "apps", Kind: "StatefulSet"}: {"spec", "template", "spec"},
	{Group: "apps", Kind: "DaemonSet"}:   {"spec", "template", "spec"},
	{Group: "apps", Kind: "ReplicaSet"}:  {"spec", "template", "spec"},
	{Group: "batch", Kind: "Job"}:        {"spec", "template", "spec"},
	{Group: "batch", Kind: "CronJob"}:    {"spec", "jobTemplate", "spec", "template", "spec"},
}

// podSpec is the pod spec of a workload, in place.
type podSpec struct {
	m    map[string]any
	path []string
}

// container is one container or init container of a pod spec, in place.
type container struct {
	m    map[string]any
	list string // containers or initContainers
	name string
	spec *podSpec
}

// fieldPath renders the path of one of the container's fields for change
// lines: spec.template.spec.containers[web].image.
func (c container) fieldPath(field string) string {
	return strings.Join(c.spec.path, ".") + "." + c.list + "[" + c.name + "]." + field
}

// findPodSpec returns obj's pod spec, or nil when obj's kind has no pod
// template or the template has no spec.
func findPodSpec(obj *unstructured.Unstructured) (*podSpec, error) {
	path, ok := podSpecPaths[obj.GroupVersionKind().GroupKind()]
	if !ok {
		return nil, nil
	}
	var cur any = obj.Object
	for i, f := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is %s, not an object", strings.Join(path[:i], "."), typeName(cur))
		}
		if cur, ok = m[f]; !ok || cur == nil {
			return nil, nil
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not an object", strings.Join(path, "."), typeName(cur))
	}
	return &podSpec{m: m, path: path}, nil
}

// containers returns the containers, then the init containers.
func (s *podSpec) containers() ([]container, error) {
	var out []container
	for _, list := range []string{"containers", "initContainers"} {
		raw, ok := s.m[list]
		if !ok || raw == nil {
			continue
		}
		items, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("%s.%s is %s, not a list", strings.Join(s.path, "."), list, typeName(raw))
		}
		for i, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.%s[%d] is %s, not an object", strings.Join(s.path, "."), list, i, typeName(item))
			}
			name, _ := m["name"].(string)
			out = append(out, container{m: m, list: list, name: name, spec: s})
		}
	}
	return out, nil
}

// applyCommandArgs applies a commandOverrider or argsOverrider to field
// (command or args) of the container it names.
func applyCommandArgs(obj *unstructured.Unstructured, kind, field string, o *policyv1alpha1.CommandArgsOverrider) ([]string, error) {
	what := kind + " container " + o.ContainerName
	spec, err := findPodSpec(obj)
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	if spec == nil {
		if _, workload := podSpecPaths[obj.GroupVersionKind().GroupKind()]; workload {
			return nil, errorf(what, "the %s has no pod template", obj.GetKind())
		}
		return nil, nil
	}
	containers, err := spec.containers()
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	i := slices.IndexFunc(containers, func(c container) bool { return c.name == o.ContainerName })
	if i < 0 {
		var names []string
		for _, c := range containers {
			names = append(names, c.name)
		}
		return nil, errorf(what, "no container or initContainer is named %s in %s (it has: %s)",
			o.ContainerName, strings.Join(spec.path, "."), strings.Join(names, ", "))
	}
	c := containers[i]

	raw, had := c.m[field]
	var current []string
	if had && raw != nil {
		items, ok := raw.([]any)
		if !ok {
			return nil, errorf(what, "%s is %s, not a list", c.fieldPath(field), typeName(raw))
		}
		for _, item := range items {
			s, ok := item.(string)
			if !ok {
				return nil, errorf(what, "%s holds %s, not only strings", c.fieldPath(field), typeName(item))
			}
			current = append(current, s)
		}
	}

	var next []string
	switch o.Operator {
	case policyv1alpha1.OverriderOpAdd:
		next = append(slices.Clone(current), o.Value...)
	case policyv1alpha1.OverriderOpRemove:
		next = slices.DeleteFunc(slices.Clone(current), func(s string) bool { return slices.Contains(o.Value, s) })
	case policyv1alpha1.OverriderOpReplace:
		next = slices.Clone(o.Value)
	default:
		return nil, errorf(what, "unknown operator %q: use add, remove or replace", o.Operator)
	}
	if slices.Equal(current, next) {
		return nil, nil
	}
	if len(next) == 0 {
		delete(c.m, field)
	} else {
		items := make([]any, len(next))
		for i, s := range next {
			items[i] = s
		}
		c.m[field] = items
	}
	return []string{change(c.fieldPath(field), renderList(current, had && raw != nil), renderList(next, len(next) > 0))}, nil
}
