package cordon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/get"
)

// effects are the taint effects a cluster may carry.
var effects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// NewTaintCommand returns `flotilla taint`.
func NewTaintCommand(conn *clientconfig.Options) *cobra.Command {
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "taint clusters NAME KEY[=VALUE]:EFFECT... | KEY[:EFFECT]-...",
		Short: "Add or remove taints on a cluster",
		Long: `Taint a member cluster, as ` + "`kubectl taint nodes`" + ` taints a node: templates whose
policy does not tolerate a taint are kept off the cluster (NoSchedule),
placed there only when no other cluster fits (PreferNoSchedule), or moved
away from it (NoExecute).

  KEY=VALUE:EFFECT    add a taint; KEY:EFFECT adds one without a value
  KEY:EFFECT-         remove the taint of KEY with EFFECT
  KEY-                remove every taint of KEY

A KEY is a qualified name (example.com/maintenance); EFFECT is NoSchedule,
PreferNoSchedule or NoExecute. A cluster has at most one taint per key and
effect: changing the value of an existing one needs --overwrite.

The hub adds and removes cluster.flotilla.io/not-ready itself, as the
cluster's Ready condition changes; it cannot be set by hand. ` + "`flotilla cordon`" + `
and ` + "`flotilla uncordon`" + ` manage cluster.flotilla.io/unschedulable.`,
		Example: `  flotilla taint clusters edge-cluster dedicated=edge:NoSchedule
  flotilla taint clusters edge-cluster dedicated=batch:NoSchedule --overwrite
  flotilla taint cluster/edge-cluster dedicated:NoSchedule-
  flotilla taint clusters edge-cluster dedicated-`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, specs, err := parseArgs(args)
			if err != nil {
				return err
			}
			change, err := ParseTaints(specs)
			if err != nil {
				return err
			}
			c, _, err := conn.Client()
			if err != nil {
				return err
			}
			op, err := Taint(cmd.Context(), c, name, change, overwrite, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster/%s %s\n", name, op)
			return nil
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace the value of a taint the cluster already has with the same key and effect")
	return cmd
}

const usage = "flotilla taint clusters NAME KEY[=VALUE]:EFFECT (KEY[:EFFECT]- removes)"

// parseArgs splits the arguments of flotilla taint into the cluster's name
// and the taint specs. The resource comes first, as clusters NAME or
// cluster/NAME.
func parseArgs(args []string) (name string, specs []string, err error) {
	res, rest := args[0], args[1:]
	if r, n, ok := strings.Cut(res, "/"); ok {
		res, name = r, n
	} else if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if !isClusters(res) {
		return "", nil, fmt.Errorf("unknown resource %q: flotilla taint taints clusters: %s", res, usage)
	}
	if name == "" || looksLikeTaint(name) {
		return "", nil, fmt.Errorf("name the cluster before the taints: %s", usage)
	}
	if len(rest) == 0 {
		return "", nil, fmt.Errorf("give at least one taint to add or remove: %s", usage)
	}
	return name, rest, nil
}

// isClusters reports whether res names the Cluster resource.
func isClusters(res string) bool {
	if r, _ := get.Resource(res); r == "clusters" {
		return true
	}
	return strings.EqualFold(res, "cluster.cluster.flotilla.io")
}

func looksLikeTaint(s string) bool {
	return strings.ContainsAny(s, "=:") || strings.HasSuffix(s, "-")
}

// Change is what the taint arguments of flotilla taint ask for.
type Change struct {
	// Add are taints to add, or whose value to overwrite.
	Add []corev1.Taint
	// Remove are taints to remove. One without an effect removes every
	// taint of its key; one with a value removes only a taint of that
	// value.
	Remove []corev1.Taint
}

// ParseTaints parses taint specs like kubectl taint's: KEY[=VALUE]:EFFECT
// adds, KEY[=VALUE][:EFFECT]- removes. An error names the spec at fault.
func ParseTaints(specs []string) (Change, error) {
	var ch Change
	for _, spec := range specs {
		remove := strings.HasSuffix(spec, "-")
		t, err := parseTaint(strings.TrimSuffix(spec, "-"), remove)
		if err != nil {
			return Change{}, fmt.Errorf("invalid taint %q: %w", spec, err)
		}
		if t.Key == clusterv1alpha1.TaintNotReady {
			return Change{}, fmt.Errorf("taint %q: the hub manages %s, adding and removing it as the cluster's Ready condition changes; it cannot be added or removed by hand",
				spec, clusterv1alpha1.TaintNotReady)
		}
		if remove {
			ch.Remove = append(ch.Remove, t)
			continue
		}
		if slices.ContainsFunc(ch.Add, func(o corev1.Taint) bool { return o.MatchTaint(&t) }) {
			return Change{}, fmt.Errorf("taint %s:%s is given twice; a cluster has at most one taint per key and effect", t.Key, t.Effect)
		}
		ch.Add = append(ch.Add, t)
	}
	// KEY- with KEY=VALUE:EFFECT replaces every taint of KEY, but the same
	// key and effect both added and removed is a mistake.
	for _, r := range ch.Remove {
		for _, a := range ch.Add {
			if r.Key == a.Key && r.Effect == a.Effect {
				return Change{}, fmt.Errorf("taint %s:%s is both added and removed; give one of them", a.Key, a.Effect)
			}
		}
	}
	return ch, nil
}

// parseTaint parses KEY[=VALUE][:EFFECT]; the effect is required unless
// the taint is to be removed.
func parseTaint(s string, remove bool) (corev1.Taint, error) {
	var t corev1.Taint
	kv, effect, hasEffect := strings.Cut(s, ":")
	t.Key, t.Value, _ = strings.Cut(kv, "=")
	if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
		return t, fmt.Errorf("key %q: %s", t.Key, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
		return t, fmt.Errorf("value %q: %s", t.Value, strings.Join(errs, "; "))
	}
	switch {
	case hasEffect:
		t.Effect = corev1.TaintEffect(effect)
		if !slices.Contains(effects, t.Effect) {
			return t, fmt.Errorf("effect %q: the effect is NoSchedule, PreferNoSchedule or NoExecute", effect)
		}
	case !remove:
		return t, fmt.Errorf("no effect: add a taint as KEY[=VALUE]:EFFECT, with EFFECT NoSchedule, PreferNoSchedule or NoExecute")
	}
	return t, nil
}

// Apply returns taints changed as ch asks: removals first, then additions.
// Adding a taint whose key and effect the cluster has with another value
// fails unless overwrite; with the same value it changes nothing. Removing
// a taint the cluster does not have fails. op says what happened, as
// kubectl taint does: tainted, untainted, modified (both) or unchanged.
func (ch Change) Apply(taints []corev1.Taint, overwrite bool, now time.Time) (out []corev1.Taint, op string, err error) {
	out = slices.Clone(taints)
	for _, r := range ch.Remove {
		n := len(out)
		out = slices.DeleteFunc(out, func(t corev1.Taint) bool {
			return t.Key == r.Key && (r.Effect == "" || t.Effect == r.Effect) && (r.Value == "" || t.Value == r.Value)
		})
		if len(out) == n {
			return nil, "", fmt.Errorf("taint %s not found", removalString(r))
		}
	}
	added := metav1.NewTime(now)
	for _, a := range ch.Add {
		i := slices.IndexFunc(out, func(t corev1.Taint) bool { return t.MatchTaint(&a) })
		switch {
		case i < 0:
			a.TimeAdded = &added
			out = append(out, a)
		case out[i].Value == a.Value:
		case !overwrite:
			return nil, "", fmt.Errorf("the cluster already has taint %s; to set it to %s, add --overwrite", out[i].ToString(), a.ToString())
		default:
			out[i].Value, out[i].TimeAdded = a.Value, &added
		}
	}
	switch {
	case slices.EqualFunc(out, taints, func(a, b corev1.Taint) bool { return a.ToString() == b.ToString() }):
		return out, "unchanged", nil
	case len(ch.Add) > 0 && len(ch.Remove) > 0:
		return out, "modified", nil
	case len(ch.Remove) > 0:
		return out, "untainted", nil
	}
	return out, "tainted", nil
}

func removalString(t corev1.Taint) string {
	s := t.Key
	if t.Value != "" {
		s += "=" + t.Value
	}
	if t.Effect != "" {
		s += ":" + string(t.Effect)
	}
	return s
}

// Taint changes the taints of the cluster named name as ch asks, and
// returns what happened (see Change.Apply).
func Taint(ctx context.Context, c client.Client, name string, ch Change, overwrite bool, now time.Time) (string, error) {
	var op string
	_, err := EditTaints(ctx, c, name, func(cl *clusterv1alpha1.Cluster) ([]corev1.Taint, bool, error) {
		taints, o, err := ch.Apply(cl.Spec.Taints, overwrite, now)
		if err != nil {
			return nil, false, fmt.Errorf("cluster %q: %w", name, err)
		}
		op = o
		return taints, o != "unchanged", nil
	})
	return op, err
}
