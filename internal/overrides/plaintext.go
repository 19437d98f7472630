package overrides

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// applyPlaintext applies one JSON patch operation (RFC 6902). It checks the
// path first, so that a rule that cannot apply says why in the user's
// terms, then lets json-patch do the operation, then checks that the
// result is still the same object.
func applyPlaintext(obj *unstructured.Unstructured, o *policyv1alpha1.PlaintextOverrider) ([]string, error) {
	what := "plaintext " + o.Path
	tokens, err := parsePointer(o.Path)
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	hasValue := o.Value != nil && len(o.Value.Raw) > 0
	parentTokens, last := tokens[:len(tokens)-1], tokens[len(tokens)-1]

	var old any
	var had bool
	switch o.Operator {
	case policyv1alpha1.OverriderOpAdd:
		if !hasValue {
			return nil, errorf(what, "add needs a value")
		}
		parent, ok := lookup(obj.Object, parentTokens)
		if !ok {
			return nil, errorf(what, "add under %s, which does not exist: add its parent first, or add the parent with this field in its value", pointerOf(parentTokens))
		}
		switch p := parent.(type) {
		case map[string]any:
			old, had = p[last]
		case []any:
			i, ok := arrayIndex(last, len(p))
			if !ok {
				return nil, errorf(what, "add at index %s of a list of %d items: use an index from 0 to %d, or - to append", last, len(p), len(p))
			}
			// The change line names the index the item lands at.
			tokens = append(slices.Clone(parentTokens), strconv.Itoa(i))
		default:
			return nil, errorf(what, "add into %s, which is %s, not an object or a list", pointerOf(parentTokens), typeName(parent))
		}
	case policyv1alpha1.OverriderOpReplace, policyv1alpha1.OverriderOpRemove:
		if o.Operator == policyv1alpha1.OverriderOpReplace && !hasValue {
			return nil, errorf(what, "replace needs a value")
		}
		if old, had = lookup(obj.Object, tokens); !had {
			return nil, errorf(what, "%s of a path that does not exist", o.Operator)
		}
	default:
		return nil, errorf(what, "unknown operator %q: use add, remove or replace", o.Operator)
	}

	op := map[string]any{"op": string(o.Operator), "path": o.Path}
	if hasValue && o.Operator != policyv1alpha1.OverriderOpRemove {
		op["value"] = json.RawMessage(o.Value.Raw)
	}
	patchJSON, err := json.Marshal([]any{op})
	if err != nil {
		return nil, errorf(what, "value is not valid JSON: %v", err)
	}
	patch, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		return nil, errorf(what, "not a valid JSON patch operation: %v", err)
	}
	doc, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, errorf(what, "the object cannot be encoded: %v", err)
	}
	patched, err := patch.Apply(doc)
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	var result map[string]any
	if err := utiljson.Unmarshal(patched, &result); err != nil || result == nil {
		return nil, errorf(what, "the result is not an object")
	}
	if why := sameObject(obj.Object, result); why != "" {
		return nil, errorf(what, "%s", why)
	}
	obj.Object = result

	var now any
	var has bool
	if o.Operator != policyv1alpha1.OverriderOpRemove {
		now, has = lookup(result, tokens)
	}
	if had == has && reflect.DeepEqual(old, now) {
		return nil, nil
	}
	return []string{change(fieldPath(tokens), render(old, had), render(now, has))}, nil
}

// sameObject says why after is no longer the object before was, or ""
// when it still is: an override may not change the identity of the object
// or break its metadata.
func sameObject(before, after map[string]any) string {
	for _, k := range []string{"apiVersion", "kind"} {
		if !reflect.DeepEqual(before[k], after[k]) {
			return "an override must not change the object's " + k
		}
	}
	meta, ok := after["metadata"].(map[string]any)
	if !ok {
		return "the result's metadata is not an object"
	}
	beforeMeta, _ := before["metadata"].(map[string]any)
	for _, k := range []string{"name", "namespace"} {
		if !reflect.DeepEqual(beforeMeta[k], meta[k]) {
			return "an override must not change the object's " + k
		}
	}
	for _, k := range []string{"labels", "annotations"} {
		v, ok := meta[k]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "the result's metadata." + k + " is not a map of strings"
		}
		for _, s := range m {
			if _, ok := s.(string); !ok {
				return "the result's metadata." + k + " is not a map of strings"
			}
		}
	}
	return ""
}
