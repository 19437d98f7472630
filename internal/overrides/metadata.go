package overrides

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// applyMetadataMap applies a labelsOverrider or annotationsOverrider to
// field (labels or annotations) of the object's own metadata:
//   - add sets each key, whether it exists or not;
//   - replace sets each key that exists, and leaves out the others;
//   - remove deletes each key that exists; the values are ignored.
func applyMetadataMap(obj *unstructured.Unstructured, kind, field string, o *policyv1alpha1.LabelAnnotationOverrider) ([]string, error) {
	current, _, err := unstructured.NestedStringMap(obj.Object, "metadata", field)
	if err != nil {
		return nil, errorf(kind, "metadata.%s is not a map of strings", field)
	}
	if current == nil {
		current = map[string]string{}
	}
	keys := make([]string, 0, len(o.Value))
	for k := range o.Value {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var changes []string
	for _, k := range keys {
		old, had := current[k]
		path := "metadata." + field + "." + k
		switch o.Operator {
		case policyv1alpha1.OverriderOpAdd, policyv1alpha1.OverriderOpReplace:
			if o.Operator == policyv1alpha1.OverriderOpReplace && !had {
				continue
			}
			v := o.Value[k]
			if why := invalidKeyValue(field, k, v); why != "" {
				return nil, errorf(kind, "%s", why)
			}
			if had && old == v {
				continue
			}
			current[k] = v
			changes = append(changes, change(path, render(old, had), render(v, true)))
		case policyv1alpha1.OverriderOpRemove:
			if !had {
				continue
			}
			delete(current, k)
			changes = append(changes, change(path, render(old, true), none))
		default:
			return nil, errorf(kind, "unknown operator %q: use add, remove or replace", o.Operator)
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	if field == "labels" {
		obj.SetLabels(current)
	} else {
		obj.SetAnnotations(current)
	}
	return changes, nil
}

// invalidKeyValue says why k=v cannot be a label or an annotation, or "".
func invalidKeyValue(field, k, v string) string {
	// Annotation keys, like the API server's check, may have an uppercase
	// prefix.
	key := k
	if field == "annotations" {
		key = strings.ToLower(k)
	}
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return "key " + k + " is not valid: " + strings.Join(errs, "; ")
	}
	if field == "labels" {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return "value " + v + " of label " + k + " is not valid: " + strings.Join(errs, "; ")
		}
	}
	return ""
}
