package scheduler

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

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
	// Kept is set when the current placement was kept although the
	// placement's desired distribution, Desired, differs: failback is
	// Manual, or the clusters Desired adds have not been Ready for
	// failover.failback.stableSeconds yet.
	Kept    bool
	Desired []workv1alpha1.TargetCluster
	// Evicted lists the clusters the template must leave because they
	// failed (a NoExecute taint, or application failover), with why.
	Evicted []Evicted
	// RequeueAfter is when to decide again because a toleration or a
	// failback delay runs out; zero when nothing is counting down.
	RequeueAfter time.Duration
	// Inputs fingerprints what the decision depended on: the clusterAffinities
	// groups tried, the names of their eligible clusters, and whatever about
	// those clusters changes the result (static weights, spread values,
	// whether their capacity is known), but never the amount of free
	// capacity. The same Inputs mean there is no reason to decide again.
	Inputs string
}

// Evicted is a cluster a template must leave.
type Evicted struct {
	Cluster string
	// Reason is workv1alpha1.EvictionClusterFailure, EvictionTaint or
	// EvictionApplicationFailure.
	Reason  string
	Message string
}

// Options are what a decision depends on beyond the binding and the
// clusters.
type Options struct {
	// Now is the time of the decision.
	Now time.Time
	// DefaultToleration is how long a template stays on a cluster that is
	// not Ready when its policy's failover.cluster does not say.
	DefaultToleration time.Duration
	// Sticky keeps the current placement when it is still valid, rather
	// than move replicas to the desired distribution. The controller sets
	// it when only the clusters changed, not the binding.
	Sticky bool
	// UnhealthySince gives, per cluster, since when the template has been
	// unhealthy there, for application failover.
	UnhealthySince map[string]time.Time
}

// DefaultClusterToleration is the hub's default failover toleration.
const DefaultClusterToleration = 60 * time.Second

// DefaultStableSeconds is how long a cluster must be Ready before
// Automatic failback moves replicas to it.
const DefaultStableSeconds = 300

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
	return ScheduleWith(spec, clusters, current, Options{Now: time.Now(), DefaultToleration: DefaultClusterToleration})
}

// InitialPlacement is the placement of a binding that has none yet, or
// nil when nothing fits (the scheduler then records why). The detector
// writes it into a binding it creates, so that execution need not wait
// for the scheduler; the scheduler, deciding with the same function on
// the same clusters, only records it.
func InitialPlacement(spec *workv1alpha1.BindingSpec, clusters []clusterv1alpha1.Cluster, defaultToleration time.Duration, now time.Time) []workv1alpha1.TargetCluster {
	res, err := ScheduleWith(spec, clusters, nil, Options{Now: now, DefaultToleration: defaultToleration})
	if err != nil {
		return nil
	}
	return res.Clusters
}

// ScheduleWith is Schedule with Options: the time, failover tolerations,
// stickiness and application health.
func ScheduleWith(spec *workv1alpha1.BindingSpec, clusters []clusterv1alpha1.Cluster, current []workv1alpha1.TargetCluster, opts Options) (Result, error) {
	cs := make([]*clusterv1alpha1.Cluster, len(clusters))
	for i := range clusters {
		cs[i] = &clusters[i]
	}
	slices.SortFunc(cs, func(a, b *clusterv1alpha1.Cluster) int { return strings.Compare(a.Name, b.Name) })
	cur := make(map[string]int64, len(current))
	for _, t := range current {
		cur[t.Name] = int64(t.Replicas)
	}

	st := &state{spec: spec, opts: opts, evicted: map[string]Evicted{}}
	inputs := sha256.New()
	terms := affinityTerms(&spec.Placement)
	outcomes := make([]outcome, 0, len(terms))
	for k, t := range terms {
		o := st.scheduleTerm(cs, cur, t)
		fmt.Fprintf(inputs, "group %q\n", t.name)
		for _, l := range o.inputs {
			fmt.Fprintln(inputs, l)
		}
		if o.fail == "" {
			res := Result{
				Clusters:     o.clusters,
				Decisions:    o.decisions,
				AffinityName: t.name,
			}
			if spec.Placement.PrimaryBackup != nil {
				res.Decisions = primaryBackupDecisions(spec.Placement.PrimaryBackup.Clusters, k, o, outcomes)
			}
			st.finish(&res, cs, cur, terms, inputs)
			return res, nil
		}
		outcomes = append(outcomes, o)
	}
	err := noFit(terms, outcomes)
	res := Result{Decisions: err.Decisions}
	st.finish(&res, cs, cur, nil, inputs)
	return res, err
}

// state is one decision's context and what its filters noticed.
type state struct {
	spec *workv1alpha1.BindingSpec
	opts Options
	// evicted are the running clusters the template must leave.
	evicted map[string]Evicted
	// until is the earliest time a toleration runs out.
	until time.Time
}

func (st *state) wakeAt(t time.Time) {
	if !t.IsZero() && (st.until.IsZero() || t.Before(st.until)) {
		st.until = t
	}
}

// finish fills in what the whole decision, not one term, gives: the
// evictions, stickiness, the requeue and the Inputs.
func (st *state) finish(res *Result, cs []*clusterv1alpha1.Cluster, cur map[string]int64, terms []term, inputs interface{ Sum([]byte) []byte }) {
	chosen := make(map[string]bool, len(res.Clusters))
	for _, c := range res.Clusters {
		chosen[c.Name] = true
	}
	for _, n := range slices.Sorted(mapKeys(st.evicted)) {
		if _, running := cur[n]; running && !chosen[n] {
			res.Evicted = append(res.Evicted, st.evicted[n])
		}
	}
	if res.Clusters != nil && terms != nil {
		st.keep(res, cs, cur, terms)
	}
	keep := fmt.Sprintf("kept=%t", res.Kept)
	if !st.until.IsZero() {
		res.RequeueAfter = max(st.until.Sub(st.opts.Now), time.Second)
	}
	h := sha256.New()
	h.Write(inputs.Sum(nil))
	h.Write([]byte(keep))
	res.Inputs = hex.EncodeToString(h.Sum(nil)[:16])
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// keep replaces a fresh decision by the current placement when that is
// still valid and the placement does not ask to move replicas back yet.
// Replicas then move only when they must: their cluster failed or left
// the placement. Duplicated placements are never kept: a new cluster gets
// its copy at once.
func (st *state) keep(res *Result, cs []*clusterv1alpha1.Cluster, cur map[string]int64, terms []term) {
	spec := st.spec
	pb := spec.Placement.PrimaryBackup != nil
	if !st.opts.Sticky || len(cur) == 0 || !(modeOf(spec).divided() || pb) {
		return
	}
	current := make([]workv1alpha1.TargetCluster, 0, len(cur))
	var sum int64
	for _, n := range slices.Sorted(mapKeys(cur)) {
		current = append(current, workv1alpha1.TargetCluster{Name: n, Replicas: int32(cur[n])})
		sum += cur[n]
	}
	if slices.Equal(current, res.Clusters) {
		return
	}
	if pb && len(current) != 1 || !pb && sum != int64(spec.Replicas) {
		return
	}
	byName := make(map[string]*clusterv1alpha1.Cluster, len(cs))
	for _, c := range cs {
		byName[c.Name] = c
	}
	// The current placement is valid when one term takes all of it.
	valid := -1
	for k, t := range terms {
		ok := true
		for _, tc := range current {
			c := byName[tc.Name]
			if c == nil || st.filter(c, t, true) != "" {
				ok = false
				break
			}
		}
		if ok {
			valid = k
			break
		}
	}
	if valid < 0 {
		return
	}
	if fb := spec.Failover; fb != nil && fb.Failback != nil && fb.Failback.Mode == policyv1alpha1.FailbackAutomatic {
		stable := time.Duration(DefaultStableSeconds) * time.Second
		if fb.Failback.StableSeconds != nil {
			stable = time.Duration(*fb.Failback.StableSeconds) * time.Second
		}
		var wait time.Time
		for _, tc := range res.Clusters {
			if _, ok := cur[tc.Name]; ok {
				continue
			}
			if ready := readySince(byName[tc.Name]); ready.IsZero() {
				wait = time.Time{}
				break
			} else if at := ready.Add(stable); at.After(st.opts.Now) && at.After(wait) {
				wait = at
			}
		}
		if wait.IsZero() {
			return
		}
		st.wakeAt(wait)
	}
	desired := res.Clusters
	want := make(map[string]int32, len(desired))
	for _, d := range desired {
		want[d.Name] = d.Replicas
	}
	for i := range res.Decisions {
		d := &res.Decisions[i]
		n, running := cur[d.Cluster]
		w, wanted := want[d.Cluster]
		switch {
		case running:
			d.Chosen, d.Replicas = true, int32(n)
			d.Reason = fmt.Sprintf("chosen: keeps %s where they run (the desired distribution gives it %d; flotilla rebalance moves them)", replicaCount(n), w)
		case wanted:
			d.Chosen, d.Replicas = false, 0
			d.Reason = fmt.Sprintf("eligible; not chosen: the current placement is kept (the desired distribution gives it %s; flotilla rebalance moves them)", replicaCount(w))
		}
	}
	res.Clusters, res.Desired, res.Kept, res.AffinityName = current, desired, true, terms[valid].name
}

// readySince is when c last became Ready; zero when it is not Ready.
func readySince(c *clusterv1alpha1.Cluster) time.Time {
	if c == nil {
		return time.Time{}
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionTrue {
		return time.Time{}
	}
	return cond.LastTransitionTime.Time
}

// primaryBackupDecisions explains a primaryBackup decision that chose the
// cluster at position k: the clusters ahead of it could not take the
// template, those after it are backups.
func primaryBackupDecisions(order []string, k int, chosen outcome, failed []outcome) []workv1alpha1.ClusterDecision {
	pos := make(map[string]int, len(order))
	for i, n := range order {
		pos[n] = i
	}
	reasonIn := func(o outcome, cluster string) string {
		for _, d := range o.decisions {
			if d.Cluster == cluster {
				return d.Reason
			}
		}
		return ""
	}
	out := slices.Clone(chosen.decisions)
	for i := range out {
		d := &out[i]
		p, listed := pos[d.Cluster]
		switch {
		case !listed:
			d.Reason = "not in primaryBackup.clusters"
		case p < k:
			d.Reason = fmt.Sprintf("primaryBackup preference %d of %d cannot take it: %s", p+1, len(order), reasonIn(failed[p], d.Cluster))
		case p > k:
			d.Reason = fmt.Sprintf("backup (preference %d of %d): takes the workload if the clusters ahead of it fail", p+1, len(order))
		default:
			role := "the primary"
			if p > 0 {
				role = fmt.Sprintf("backup %d of %d, the first eligible", p+1, len(order))
			}
			d.Reason = fmt.Sprintf("chosen: %s; %s", role, strings.TrimPrefix(d.Reason, "chosen: "))
		}
	}
	return out
}

// term is one affinity to try: a clusterAffinities group, or the
// placement's clusterAffinity (which may be nil) with an empty name, or
// one cluster of primaryBackup (only), named after it.
type term struct {
	name     string
	affinity *policyv1alpha1.ClusterAffinity
	only     string
}

func affinityTerms(p *policyv1alpha1.Placement) []term {
	if p.PrimaryBackup != nil {
		ts := make([]term, len(p.PrimaryBackup.Clusters))
		for i, n := range p.PrimaryBackup.Clusters {
			ts[i] = term{name: n, affinity: p.ClusterAffinity, only: n}
		}
		return ts
	}
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

func (st *state) scheduleTerm(cs []*clusterv1alpha1.Cluster, cur map[string]int64, t term) outcome {
	spec := st.spec
	why := make(map[string]string, len(cs))
	var o outcome

	m := modeOf(spec)
	var eligible []*candidate
	for _, c := range cs {
		_, running := cur[c.Name]
		if r := st.filter(c, t, running); r != "" {
			why[c.Name] = r
			continue
		}
		cand := &candidate{cluster: c, available: -1}
		cand.current, cand.running = cur[c.Name]
		if m.divided() {
			if free := freeReplicas(c, spec.ReplicaRequirements); free >= 0 {
				cand.available = free + cand.current
			}
			if cand.running && readiness(c) != "" {
				// Not Ready, within its toleration: it keeps what it runs
				// and gets no more.
				cand.available = cand.current
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

// filter returns why c may not take the template under term t, or "" when
// it may. The placement's filters come first: they are the user's choice
// and change less often than a cluster's readiness, so a cluster's reason
// stays put.
//
// A cluster that already runs the template keeps it while it is not Ready:
// a probe blip must not move or delete workloads. It leaves when a
// NoExecute taint says so: the hub's not-ready taint once the failover
// toleration runs out, or a drain. With application failover it also
// leaves when the template has been unhealthy there for the toleration.
func (st *state) filter(c *clusterv1alpha1.Cluster, t term, running bool) string {
	spec := st.spec
	if t.only != "" && c.Name != t.only {
		return fmt.Sprintf("primaryBackup tries %s here", t.only)
	}
	placement := spec.Placement
	placement.ClusterAffinity, placement.ClusterAffinities = t.affinity, nil
	filters := []framework.FilterPlugin{
		clusteraffinity.Plugin{},
		apienablement.Plugin{APIVersion: spec.Resource.APIVersion, Kind: spec.Resource.Kind},
	}
	if !running {
		filters = append(filters, tainttoleration.Plugin{})
	}
	if s := framework.RunFilters(context.Background(), filters, &placement, c); !s.IsSuccess() {
		if s.Plugin == clusteraffinity.Name {
			if t.name != "" && t.only == "" {
				return fmt.Sprintf("clusterAffinities group %q: %s", t.name, s.Reason)
			}
			return "clusterAffinity: " + s.Reason
		}
		return s.Reason
	}
	if !c.DeletionTimestamp.IsZero() {
		return "being deleted"
	}
	for _, e := range spec.Evictions {
		if e.Cluster == c.Name && e.Reason == workv1alpha1.EvictionApplicationFailure && st.opts.Now.Before(e.Deadline.Time) {
			st.wakeAt(e.Deadline.Time)
			return "evicted until " + e.Deadline.UTC().Format(time.RFC3339) + ": " + e.Message
		}
	}
	if !running {
		return readiness(c)
	}
	v := tainttoleration.Running(spec.Placement.ClusterTolerations, c, st.opts.Now, st.toleration(), st.staysPut(c))
	st.wakeAt(v.Until)
	if v.Reason != "" {
		st.evicted[c.Name] = Evicted{Cluster: c.Name, Reason: v.Eviction, Message: v.Reason}
		return v.Reason
	}
	if r := st.unhealthy(c.Name); r != "" {
		st.evicted[c.Name] = Evicted{Cluster: c.Name, Reason: workv1alpha1.EvictionApplicationFailure, Message: r}
		return r
	}
	return ""
}

// staysPut reports whether c is an Offline Pull cluster whose replicas stay
// where they are: the policy's failover.cluster.offline, else the
// cluster's spec.offline, else StayPut.
func (st *state) staysPut(c *clusterv1alpha1.Cluster) bool {
	if c.Spec.SyncMode != clusterv1alpha1.Pull ||
		!meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionOffline) {
		return false
	}
	action := c.Spec.Offline
	if fo := st.spec.Failover; fo != nil && fo.Cluster != nil && fo.Cluster.Offline != "" {
		action = clusterv1alpha1.OfflineAction(fo.Cluster.Offline)
	}
	return action != clusterv1alpha1.OfflineFailOver
}

// toleration is how long the template stays on a cluster that is not Ready.
func (st *state) toleration() time.Duration {
	if fo := st.spec.Failover; fo != nil && fo.Cluster != nil && fo.Cluster.TolerationSeconds != nil {
		return time.Duration(*fo.Cluster.TolerationSeconds) * time.Second
	}
	return st.opts.DefaultToleration
}

// unhealthy says why the template must leave cluster under application
// failover, or "" when it may stay.
func (st *state) unhealthy(cluster string) string {
	fo := st.spec.Failover
	if fo == nil || fo.Application == nil {
		return ""
	}
	since, ok := st.opts.UnhealthySince[cluster]
	if !ok {
		return ""
	}
	limit := time.Duration(fo.Application.TolerationSeconds) * time.Second
	if at := since.Add(limit); st.opts.Now.Before(at) {
		st.wakeAt(at)
		return ""
	}
	return fmt.Sprintf("the workload has been unhealthy here since %s, longer than failover.application.tolerationSeconds (%s)",
		since.UTC().Format(time.RFC3339), limit)
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
