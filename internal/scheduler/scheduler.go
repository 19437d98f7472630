package scheduler

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/framework"
	"github.com/flotilla-io/flotilla/internal/scheduler/plugins/apienablement"
	"github.com/flotilla-io/flotilla/internal/scheduler/plugins/clusteraffinity"
	"github.com/flotilla-io/flotilla/internal/scheduler/plugins/tainttoleration"
)

// Result is one scheduling decision.
type Result struct {
	// Clusters are the chosen clusters with their replicas, sorted by name.
	Clusters []workv1alpha1.TargetCluster
	// Decisions give every cluster's verdict, chosen or not, with a reason
	// for a user, sorted by cluster name.
	Decisions []workv1alpha1.ClusterDecision
	// AffinityName is the clusterAffinities group the decision used; empty
	// when the placement has no clusterAffinities.
	AffinityName string
	// Inputs fingerprints what the decision depended on: the clusterAffinities
	// groups tried, the names of their eligible clusters, and whatever about
	// those clusters changes the result (static weights, spread values,
	// whether their capacity is known), but never the amount of free
	// capacity. The same Inputs mean there is no reason to decide again.
	Inputs string
}

// NoFitError is Schedule's error when the template fits nowhere. It says
// why, overall and for each cluster.
type NoFitError struct {
	// Reason sums the failure up, for example "capacity short: ...".
	Reason string
	// Decisions give every cluster, none chosen, with why not; sorted by
	// cluster name.
	Decisions []workv1alpha1.ClusterDecision
}

// maxListed is how many clusters NoFitError's message names, so that a
// condition message stays readable in a large fleet.
const maxListed = 20

func (e *NoFitError) Error() string {
	var b strings.Builder
	b.WriteString(e.Reason)
	for i, d := range e.Decisions {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more clusters, see status.decisions", len(e.Decisions)-maxListed)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, d.Cluster, d.Reason)
	}
	return b.String()
}

// Schedule chooses the clusters for a binding and their replicas.
//
// current is what the binding runs now (its spec.clusters): replicas a
// cluster already runs count as room it has, so that a decision made again
// keeps them where they are when it can. With clusterAffinities the groups
// are tried in order and the first that can take every replica wins.
//
// The same arguments in any order give the same Result; ties are broken by
// cluster name. clusters are only read. When the template fits nowhere the
// error is a *NoFitError, and the Result still carries the Decisions and
// Inputs.
func Schedule(spec *workv1alpha1.BindingSpec, clusters []clusterv1alpha1.Cluster, current []workv1alpha1.TargetCluster) (Result, error) {
	cs := make([]*clusterv1alpha1.Cluster, len(clusters))
	for i := range clusters {
		cs[i] = &clusters[i]
	}
	slices.SortFunc(cs, func(a, b *clusterv1alpha1.Cluster) int { return strings.Compare(a.Name, b.Name) })
	cur := make(map[string]int64, len(current))
	for _, t := range current {
		cur[t.Name] = int64(t.Replicas)
	}

	inputs := sha256.New()
	terms := affinityTerms(&spec.Placement)
	outcomes := make([]outcome, 0, len(terms))
	for _, t := range terms {
		o := scheduleTerm(spec, cs, cur, t)
		fmt.Fprintf(inputs, "group %q\n", t.name)
		for _, l := range o.inputs {
			fmt.Fprintln(inputs, l)
		}
		if o.fail == "" {
			return Result{
				Clusters:     o.clusters,
				Decisions:    o.decisions,
				AffinityName: t.name,
				Inputs:       hex.EncodeToString(inputs.Sum(nil)[:16]),
			}, nil
		}
		outcomes = append(outcomes, o)
	}
	err := noFit(terms, outcomes)
	return Result{Decisions: err.Decisions, Inputs: hex.EncodeToString(inputs.Sum(nil)[:16])}, err
}

// term is one affinity to try: a clusterAffinities group, or the
// placement's clusterAffinity (which may be nil) with an empty name.
type term struct {
	name     string
	affinity *policyv1alpha1.ClusterAffinity
}

func affinityTerms(p *policyv1alpha1.Placement) []term {
	if len(p.ClusterAffinities) == 0 {
		return []term{{affinity: p.ClusterAffinity}}
	}
	ts := make([]term, len(p.ClusterAffinities))
	for i := range p.ClusterAffinities {
		ts[i] = term{name: p.ClusterAffinities[i].AffinityName, affinity: &p.ClusterAffinities[i].ClusterAffinity}
	}
	return ts
}

// outcome is the result of scheduling with one term.
type outcome struct {
	clusters  []workv1alpha1.TargetCluster
	decisions []workv1alpha1.ClusterDecision
	// inputs are the fingerprint's lines for this term.
	inputs []string
	// fail says why the term cannot take the template; empty on success.
	fail string
}

// candidate is an eligible cluster on its way through spread and division.
type candidate struct {
	cluster *clusterv1alpha1.Cluster
	// weight from staticWeightList, for static weighted division.
	weight int64
	// available is how many replicas the cluster could run: its free
	// capacity plus what it runs now; -1 when its capacity is unknown.
	available int64
	// current is how many replicas it runs now, and running whether it runs
	// the template at all.
	current int64
	running bool
}

func (c *candidate) name() string { return c.cluster.Name }

func scheduleTerm(spec *workv1alpha1.BindingSpec, cs []*clusterv1alpha1.Cluster, cur map[string]int64, t term) outcome {
	why := make(map[string]string, len(cs))
	var o outcome

	placement := spec.Placement
	placement.ClusterAffinity, placement.ClusterAffinities = t.affinity, nil
	filters := []framework.FilterPlugin{
		clusteraffinity.Plugin{},
		tainttoleration.Plugin{},
		apienablement.Plugin{APIVersion: spec.Resource.APIVersion, Kind: spec.Resource.Kind},
	}
	m := modeOf(spec)
	var eligible []*candidate
	for _, c := range cs {
		_, running := cur[c.Name]
		if r := filter(filters, &placement, c, t.name, running); r != "" {
			why[c.Name] = r
			continue
		}
		cand := &candidate{cluster: c, available: -1}
		cand.current, cand.running = cur[c.Name]
		if m.divided() {
			if free := freeReplicas(c, spec.ReplicaRequirements); free >= 0 {
				cand.available = free + cand.current
			}
		}
		if m == modeStatic {
			cand.weight = staticWeight(spec.Placement.ReplicaScheduling.WeightPreference.StaticWeightList, c)
		}
		o.inputs = append(o.inputs, inputLine(cand, m, spec.Placement.SpreadConstraints))
		if m == modeStatic && cand.weight == 0 {
			why[c.Name] = "no weight in staticWeightList"
			continue
		}
		eligible = append(eligible, cand)
	}

	kept, dropped, fail := spread(spec.Placement.SpreadConstraints, eligible, m.divided())
	for n, r := range dropped {
		why[n] = r
	}
	switch {
	case fail != "", len(kept) > 0:
	case len(cs) == 0:
		fail = "there are no member clusters"
	case len(o.inputs) > 0:
		// Eligible clusters, all without a weight.
		fail = "no eligible cluster has a weight in staticWeightList"
	default:
		fail = "no cluster passes the filters"
	}
	if fail != "" {
		o.fail = fail
		o.decisions = decisions(cs, nil, why)
		return o
	}

	assigned, notes, fail := assign(spec, m, kept)
	for n, r := range notes {
		why[n] = r
	}
	if fail != "" {
		o.fail = fail
		o.decisions = decisions(cs, nil, why)
		return o
	}
	o.clusters = assigned
	o.decisions = decisions(cs, assigned, why)
	return o
}

// filter returns why c may not take the template, or "" when it may. The
// placement's filters come first: they are the user's choice and change
// less often than a cluster's readiness, so a cluster's reason stays put.
//
// A cluster that already runs the template keeps it while it is not Ready:
// a probe blip must not move or delete workloads. Moving them away from a
// cluster that stays down is failover's job, with its own toleration.
func filter(filters []framework.FilterPlugin, p *policyv1alpha1.Placement, c *clusterv1alpha1.Cluster, termName string, running bool) string {
	if s := framework.RunFilters(context.Background(), filters, p, c); !s.IsSuccess() {
		if s.Plugin == clusteraffinity.Name {
			if termName != "" {
				return fmt.Sprintf("clusterAffinities group %q: %s", termName, s.Reason)
			}
			return "clusterAffinity: " + s.Reason
		}
		return s.Reason
	}
	if !c.DeletionTimestamp.IsZero() {
		return "being deleted"
	}
	if running {
		return ""
	}
	return readiness(c)
}

// readiness returns why c is not Ready, or "" when it is.
func readiness(c *clusterv1alpha1.Cluster) string {
	cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
	switch {
	case cond == nil:
		return "not Ready: not probed yet"
	case cond.Status == metav1.ConditionTrue:
		return ""
	case cond.Reason != "":
		return fmt.Sprintf("not Ready (%s)", cond.Reason)
	default:
		return "not Ready"
	}
}

// staticWeight is the highest weight of the staticWeightList entries that
// select c; 0 when none does.
func staticWeight(list []policyv1alpha1.StaticClusterWeight, c *clusterv1alpha1.Cluster) int64 {
	var w int64
	for i := range list {
		if list[i].Weight > w && clusteraffinity.Matches(&list[i].TargetCluster, c) == "" {
			w = list[i].Weight
		}
	}
	return w
}

// inputLine is an eligible cluster's line of the fingerprint: its name and
// what about it, apart from free capacity, changes the decision.
func inputLine(c *candidate, m mode, constraints []policyv1alpha1.SpreadConstraint) string {
	var b strings.Builder
	b.WriteString(c.name())
	if m == modeStatic {
		fmt.Fprintf(&b, " weight=%d", c.weight)
	}
	if m == modeDynamic || m == modeAggregated {
		fmt.Fprintf(&b, " capacityKnown=%t", c.available >= 0)
	}
	for _, sc := range constraints {
		if sc.SpreadByField == policyv1alpha1.SpreadByFieldCluster {
			continue
		}
		fmt.Fprintf(&b, " %s=%q", spreadName(sc), spreadKey(sc, c.cluster))
	}
	return b.String()
}

// decisions lists every cluster of cs: chosen with its replicas when it is
// in assigned, otherwise with why[name].
func decisions(cs []*clusterv1alpha1.Cluster, assigned []workv1alpha1.TargetCluster, why map[string]string) []workv1alpha1.ClusterDecision {
	got := make(map[string]int32, len(assigned))
	for _, a := range assigned {
		got[a.Name] = a.Replicas
	}
	out := make([]workv1alpha1.ClusterDecision, 0, len(cs))
	for _, c := range cs {
		r, chosen := got[c.Name]
		reason := why[c.Name]
		if reason == "" {
			// Only when the template fits nowhere as a whole.
			reason = "eligible"
		}
		out = append(out, workv1alpha1.ClusterDecision{Cluster: c.Name, Chosen: chosen, Replicas: r, Reason: reason})
	}
	return out
}

// noFit builds the error of a binding no term could place. With several
// clusterAffinities groups, each cluster's reason names the group.
func noFit(terms []term, outcomes []outcome) *NoFitError {
	if len(outcomes) == 1 {
		return &NoFitError{Reason: outcomes[0].fail, Decisions: outcomes[0].decisions}
	}
	reasons := make([]string, len(outcomes))
	for i, o := range outcomes {
		reasons[i] = fmt.Sprintf("group %q: %s", terms[i].name, o.fail)
	}
	err := &NoFitError{Reason: "no clusterAffinities group fits: " + strings.Join(reasons, "; ")}
	for k, d := range outcomes[0].decisions {
		per := make([]string, len(outcomes))
		for i, o := range outcomes {
			prefix := fmt.Sprintf("group %q: ", terms[i].name)
			per[i] = prefix + strings.TrimPrefix(o.decisions[k].Reason, "clusterAffinities "+prefix)
		}
		err.Decisions = append(err.Decisions, workv1alpha1.ClusterDecision{Cluster: d.Cluster, Reason: strings.Join(per, "; ")})
	}
	return err
}

// clusterCount says "1 cluster" or "n clusters".
func clusterCount(n int) string {
	if n == 1 {
		return "1 cluster"
	}
	return fmt.Sprintf("%d clusters", n)
}

// replicaCount says "1 replica" or "n replicas".
func replicaCount[T int32 | int64](n T) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// byName orders candidates by cluster name.
func byName(a, b *candidate) int { return cmp.Compare(a.name(), b.name()) }
