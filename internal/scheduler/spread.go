package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// spread narrows the candidates to the groups the spreadConstraints choose.
// Constraints apply one after the other, in their order, except that those
// spreading by cluster come last: clusters are chosen within the chosen
// regions, zones or providers.
//
// A constraint groups the candidates by its field or label (a cluster
// without the field or label is dropped), fails when fewer than minGroups
// groups remain, and keeps the best maxGroups groups. For Divided replicas
// the best groups have the most room, counting the replicas they run now;
// otherwise the best groups already run the template. Ties go by the
// group's name.
//
// It returns the candidates kept, why each dropped one was dropped, and why
// the constraints cannot be met.
func spread(constraints []policyv1alpha1.SpreadConstraint, cands []*candidate, divided bool) ([]*candidate, map[string]string, string) {
	dropped := map[string]string{}
	if len(cands) == 0 {
		return nil, dropped, ""
	}
	ordered := slices.Clone(constraints)
	slices.SortStableFunc(ordered, func(a, b policyv1alpha1.SpreadConstraint) int {
		return cmp.Compare(isByCluster(a), isByCluster(b))
	})
	kept := cands
	for _, sc := range ordered {
		var fail string
		if kept, fail = spreadOne(sc, kept, divided, dropped); fail != "" {
			return nil, dropped, fail
		}
	}
	return kept, dropped, ""
}

func isByCluster(sc policyv1alpha1.SpreadConstraint) int {
	if sc.SpreadByField == policyv1alpha1.SpreadByFieldCluster {
		return 1
	}
	return 0
}

// spreadGroup is the candidates that share one value of a spread field.
type spreadGroup struct {
	key       string
	members   []*candidate
	available int64
	running   int
}

func spreadOne(sc policyv1alpha1.SpreadConstraint, cands []*candidate, divided bool, dropped map[string]string) ([]*candidate, string) {
	by := spreadName(sc)
	index := map[string]*spreadGroup{}
	var groups []*spreadGroup
	for _, c := range cands {
		k := spreadKey(sc, c.cluster)
		if k == "" {
			dropped[c.name()] = fmt.Sprintf("spread by %s: the cluster has no %s", by, by)
			continue
		}
		g := index[k]
		if g == nil {
			g = &spreadGroup{key: k}
			index[k] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, c)
		g.available += max(c.available, 0)
		if c.running {
			g.running++
		}
	}
	byCluster := sc.SpreadByField == policyv1alpha1.SpreadByFieldCluster
	noun := by + "s"
	if byCluster {
		noun = "clusters"
	}
	if len(groups) == 0 {
		return nil, fmt.Sprintf("spread by %s: no eligible cluster has a %s", by, by)
	}
	if sc.MinGroups > 0 && len(groups) < int(sc.MinGroups) {
		are := "are"
		if len(groups) == 1 {
			are = "is"
		}
		return nil, fmt.Sprintf("spread by %s needs at least %d %s, but only %d %s eligible (%s)",
			by, sc.MinGroups, noun, len(groups), are, keys(groups, len(groups)))
	}
	slices.SortFunc(groups, func(a, b *spreadGroup) int {
		if divided {
			if c := cmp.Compare(b.available, a.available); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(b.running, a.running), strings.Compare(a.key, b.key))
	})
	if n := int(sc.MaxGroups); n > 0 && len(groups) > n {
		for _, g := range groups[n:] {
			for _, c := range g.members {
				if byCluster {
					dropped[c.name()] = fmt.Sprintf("spread by cluster: not among the %d clusters chosen (maxGroups %d)", n, n)
				} else {
					dropped[c.name()] = fmt.Sprintf("spread by %s: %s %q not chosen, maxGroups %d keeps %s", by, by, g.key, n, keys(groups, n))
				}
			}
		}
		groups = groups[:n]
	}
	var kept []*candidate
	for _, g := range groups {
		kept = append(kept, g.members...)
	}
	slices.SortFunc(kept, byName)
	return kept, ""
}

// keys quotes the keys of the first n groups, in order.
func keys(groups []*spreadGroup, n int) string {
	q := make([]string, n)
	for i := range n {
		q[i] = fmt.Sprintf("%q", groups[i].key)
	}
	return strings.Join(q, ", ")
}

// spreadName names what sc spreads by, for messages.
func spreadName(sc policyv1alpha1.SpreadConstraint) string {
	if sc.SpreadByLabel != "" {
		return "label " + sc.SpreadByLabel
	}
	return string(sc.SpreadByField)
}

// spreadKey is c's value of what sc spreads by; "" when c has none.
func spreadKey(sc policyv1alpha1.SpreadConstraint, c *clusterv1alpha1.Cluster) string {
	if sc.SpreadByLabel != "" {
		return c.Labels[sc.SpreadByLabel]
	}
	switch sc.SpreadByField {
	case policyv1alpha1.SpreadByFieldCluster:
		return c.Name
	case policyv1alpha1.SpreadByFieldRegion:
		return c.Spec.Region
	case policyv1alpha1.SpreadByFieldZone:
		return c.Spec.Zone
	case policyv1alpha1.SpreadByFieldProvider:
		return c.Spec.Provider
	}
	return ""
}
