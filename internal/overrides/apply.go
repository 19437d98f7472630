package overrides

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/plugins/clusteraffinity"
)

// Limits of an AppliedOverride's changes, as the API enforces them.
const (
	// MaxChanges is the most change lines kept per policy; the last one
	// says how many more there were.
	MaxChanges = 32
	// MaxChangeLength is the longest change line, in bytes; longer lines
	// are cut and end with "…".
	MaxChangeLength = 1024
)

// RuleError says why a rule of a policy could not apply. Retrying does not
// help: the policy or the template must change.
type RuleError struct {
	// Policy is ClusterOverridePolicy/name or OverridePolicy/namespace/name.
	Policy string
	// Rule is the index of the rule in spec.overrideRules.
	Rule int
	// Overrider names the overrider and what it was changing, for example
	// "plaintext /spec/foo" or "commandOverrider container web".
	Overrider string
	// Reason says what was wrong.
	Reason string
}

// Error reads, for example, "OverridePolicy/default/web rule 0 plaintext
// /spec/foo: replace of a path that does not exist".
func (e *RuleError) Error() string {
	return fmt.Sprintf("%s rule %d %s: %s", e.Policy, e.Rule, e.Overrider, e.Reason)
}

// overriderError is a RuleError without its policy and rule.
type overriderError struct {
	overrider string
	reason    string
}

func (e *overriderError) Error() string { return e.overrider + ": " + e.reason }

func errorf(overrider, format string, args ...any) error {
	return &overriderError{overrider: overrider, reason: fmt.Sprintf(format, args...)}
}

// Apply applies policies, in the order given (Matching's order), to obj as
// it goes to cluster, and returns what each policy changed. A policy
// applies to the cluster when one of its rules does: a rule without
// targetCluster applies to every cluster. Such a policy appears in the
// result, in order, even when it changed nothing; a policy none of whose
// rules targets the cluster does not.
//
// obj is changed in place only when every rule applies; on error it is
// left as it was and the error is a *RuleError.
func Apply(obj *unstructured.Unstructured, cluster *clusterv1alpha1.Cluster, policies []Policy) ([]workv1alpha1.AppliedOverride, error) {
	if cluster == nil {
		return nil, errors.New("overrides: no cluster to apply to")
	}
	work := obj.DeepCopy()
	var out []workv1alpha1.AppliedOverride
	for _, p := range policies {
		applies := false
		var changes []string
		for i := range p.Spec.OverrideRules {
			rule := &p.Spec.OverrideRules[i]
			if rule.TargetCluster != nil && clusteraffinity.Matches(rule.TargetCluster, cluster) != "" {
				continue
			}
			applies = true
			c, err := applyOverriders(work, &rule.Overriders)
			if err != nil {
				re := &RuleError{Policy: p.String(), Rule: i, Reason: err.Error()}
				var oe *overriderError
				if errors.As(err, &oe) {
					re.Overrider, re.Reason = oe.overrider, oe.reason
				}
				return nil, re
			}
			changes = append(changes, c...)
		}
		if applies {
			out = append(out, workv1alpha1.AppliedOverride{Policy: p.String(), Changes: capChanges(changes)})
		}
	}
	obj.Object = work.Object
	return out, nil
}

// applyOverriders applies one rule's overriders in their fixed order.
func applyOverriders(obj *unstructured.Unstructured, o *policyv1alpha1.Overriders) ([]string, error) {
	var changes []string
	for i := range o.ImageOverrider {
		c, err := applyImage(obj, &o.ImageOverrider[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	for i := range o.CommandOverrider {
		c, err := applyCommandArgs(obj, "commandOverrider", "command", &o.CommandOverrider[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	for i := range o.ArgsOverrider {
		c, err := applyCommandArgs(obj, "argsOverrider", "args", &o.ArgsOverrider[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	for i := range o.LabelsOverrider {
		c, err := applyMetadataMap(obj, "labelsOverrider", "labels", &o.LabelsOverrider[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	for i := range o.AnnotationsOverrider {
		c, err := applyMetadataMap(obj, "annotationsOverrider", "annotations", &o.AnnotationsOverrider[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	for i := range o.Plaintext {
		c, err := applyPlaintext(obj, &o.Plaintext[i])
		if err != nil {
			return nil, err
		}
		changes = append(changes, c...)
	}
	return changes, nil
}

// change is one line of an AppliedOverride: "path: old -> new".
func change(path, from, to string) string {
	return path + ": " + from + " -> " + to
}

// capChanges keeps changes within the API's limits.
func capChanges(changes []string) []string {
	if len(changes) > MaxChanges {
		more := len(changes) - (MaxChanges - 1)
		changes = append(changes[:MaxChanges-1:MaxChanges-1], fmt.Sprintf("… and %d more changes", more))
	}
	for i, c := range changes {
		changes[i] = truncate(c, MaxChangeLength)
	}
	return changes
}

// truncate cuts s to at most n bytes, on a rune boundary, ending with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// renderList renders a command or args list: [a b], or (none).
func renderList(l []string, ok bool) string {
	if !ok {
		return none
	}
	return "[" + strings.Join(l, " ") + "]"
}

// none stands for a field that is not set.
const none = "(none)"
