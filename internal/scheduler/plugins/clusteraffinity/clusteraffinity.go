// Package clusteraffinity filters clusters by a placement's clusterAffinity:
// names, exclusions, labels and the provider/region/zone field selector.
package clusteraffinity

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/framework"
)

// Name of the plugin.
const Name = "ClusterAffinity"

// Plugin filters by clusterAffinity.
type Plugin struct{}

var _ framework.FilterPlugin = Plugin{}

// Name returns the plugin's name.
func (Plugin) Name() string { return Name }

// Filter admits clusters the placement's clusterAffinity selects. A
// placement without one admits every cluster. clusterAffinities (fallback
// groups) are resolved by the caller, one term at a time, through Matches.
func (Plugin) Filter(_ context.Context, p *policyv1alpha1.Placement, c *clusterv1alpha1.Cluster) *framework.Status {
	if p == nil || p.ClusterAffinity == nil {
		return nil
	}
	if why := Matches(p.ClusterAffinity, c); why != "" {
		return framework.NewStatus(framework.Unschedulable, Name, "%s", why)
	}
	return nil
}

// Matches reports why affinity does not select c, or "" when it does.
func Matches(a *policyv1alpha1.ClusterAffinity, c *clusterv1alpha1.Cluster) string {
	if slices.Contains(a.Exclude, c.Name) {
		return "excluded by name"
	}
	if len(a.ClusterNames) > 0 && !slices.Contains(a.ClusterNames, c.Name) {
		return "not in clusterNames"
	}
	if a.LabelSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(a.LabelSelector)
		if err != nil {
			return "invalid labelSelector: " + err.Error()
		}
		if !sel.Matches(labels.Set(c.Labels)) {
			return fmt.Sprintf("labels do not match %s", sel)
		}
	}
	if a.FieldSelector != nil {
		for _, r := range a.FieldSelector.MatchExpressions {
			if !fieldMatches(r, c) {
				return fmt.Sprintf("%s %q does not satisfy %s %s %v", r.Key, field(r.Key, c), r.Key, r.Operator, r.Values)
			}
		}
	}
	return ""
}

func field(key string, c *clusterv1alpha1.Cluster) string {
	switch key {
	case "provider":
		return c.Spec.Provider
	case "region":
		return c.Spec.Region
	case "zone":
		return c.Spec.Zone
	}
	return ""
}

func fieldMatches(r policyv1alpha1.FieldSelectorRequirement, c *clusterv1alpha1.Cluster) bool {
	v := field(r.Key, c)
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return v != "" && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return v != ""
	case corev1.NodeSelectorOpDoesNotExist:
		return v == ""
	}
	return false
}
