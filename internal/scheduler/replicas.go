package scheduler

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/division"
)

// mode is how replicas map to the chosen clusters.
type mode int

const (
	// modeDuplicated: every chosen cluster runs spec.replicas. Also the
	// mode of templates without replicas (spec.replicas 0).
	modeDuplicated mode = iota
	// modeStatic: Divided, weighted by staticWeightList.
	modeStatic
	// modeDynamic: Divided, weighted by free capacity.
	modeDynamic
	// modeAggregated: Divided, packed into few clusters.
	modeAggregated
	// modeEven: Divided with no preference: equal weights.
	modeEven
)

func (m mode) divided() bool { return m != modeDuplicated }

// modeOf reads the placement's replicaScheduling. A placement without one
// duplicates, as does a template without replicas; Divided without a
// division preference divides evenly.
func modeOf(spec *workv1alpha1.BindingSpec) mode {
	rs := spec.Placement.ReplicaScheduling
	if spec.Replicas <= 0 || rs == nil || rs.ReplicaSchedulingType == policyv1alpha1.ReplicaSchedulingTypeDuplicated {
		return modeDuplicated
	}
	switch rs.ReplicaDivisionPreference {
	case policyv1alpha1.ReplicaDivisionPreferenceAggregated:
		return modeAggregated
	case policyv1alpha1.ReplicaDivisionPreferenceWeighted:
		if wp := rs.WeightPreference; wp != nil {
			if len(wp.StaticWeightList) > 0 {
				return modeStatic
			}
			if wp.DynamicWeight == policyv1alpha1.DynamicWeightByAvailableReplicas {
				return modeDynamic
			}
		}
	}
	return modeEven
}

// freeReplicas estimates how many more replicas, each requesting req, the
// free capacity of c can take: allocatable minus requested minus
// allocating, for each resource a replica requests, and for pods. It is -1
// when the cluster has reported no resource summary yet. A resource the
// cluster has no allocatable of (a GPU, say) leaves no room, except
// ephemeral-storage, which many clusters do not report.
func freeReplicas(c *clusterv1alpha1.Cluster, req corev1.ResourceList) int64 {
	rs := c.Status.ResourceSummary
	if rs == nil || len(rs.Allocatable) == 0 {
		return -1
	}
	n := int64(-1)
	fit := func(name corev1.ResourceName, per resource.Quantity) {
		alloc, ok := rs.Allocatable[name]
		if !ok && name == corev1.ResourceEphemeralStorage {
			return
		}
		var m int64
		if ok {
			free := alloc.DeepCopy()
			if q, ok := rs.Requested[name]; ok {
				free.Sub(q)
			}
			if q, ok := rs.Allocating[name]; ok {
				free.Sub(q)
			}
			m = quotient(free, per)
		}
		if n < 0 || m < n {
			n = m
		}
	}
	for name, per := range req {
		if per.Sign() > 0 {
			fit(name, per)
		}
	}
	if _, ok := req[corev1.ResourcePods]; !ok {
		if _, ok := rs.Allocatable[corev1.ResourcePods]; ok {
			fit(corev1.ResourcePods, *resource.NewQuantity(1, resource.DecimalSI))
		}
	}
	return n
}

// quotient is how many times per (> 0) fits in free, rounded down.
func quotient(free, per resource.Quantity) int64 {
	if free.Sign() <= 0 {
		return 0
	}
	if free.Value() < math.MaxInt64/1000 {
		return free.MilliValue() / per.MilliValue()
	}
	return free.Value() / max(per.Value(), 1)
}

// assign gives the kept candidates their replicas. It returns the chosen
// clusters sorted by name, a reason for every candidate, and, when not
// every replica can be placed, why.
func assign(spec *workv1alpha1.BindingSpec, m mode, kept []*candidate) ([]workv1alpha1.TargetCluster, map[string]string, string) {
	notes := make(map[string]string, len(kept))
	if m == modeDuplicated {
		out := make([]workv1alpha1.TargetCluster, 0, len(kept))
		for _, c := range kept {
			out = append(out, workv1alpha1.TargetCluster{Name: c.name(), Replicas: spec.Replicas})
			notes[c.name()] = "chosen"
			if spec.Replicas > 0 {
				notes[c.name()] = fmt.Sprintf("chosen: runs all %s (Duplicated)", replicaCount(spec.Replicas))
			}
		}
		return out, notes, ""
	}

	replicas := int64(spec.Replicas)
	targets := make([]division.Target, len(kept))
	for i, c := range kept {
		targets[i] = division.Target{Name: c.name(), Weight: c.weight, Available: c.available, Current: c.current}
		if m == modeEven {
			targets[i].Weight = 1
		}
	}
	var res division.Result
	switch m {
	case modeStatic, modeEven:
		res = division.Weighted(replicas, targets)
	case modeDynamic:
		res = division.DynamicWeighted(replicas, targets)
	case modeAggregated:
		res = division.Aggregated(replicas, targets)
	}
	if res.Unplaced > 0 {
		for _, c := range kept {
			notes[c.name()] = "eligible; " + room(c)
		}
		return nil, notes, res.Reason
	}

	got := make(map[string]int64, len(res.Assignments))
	out := make([]workv1alpha1.TargetCluster, 0, len(res.Assignments))
	for _, a := range res.Assignments {
		got[a.Name] = a.Replicas
		out = append(out, workv1alpha1.TargetCluster{Name: a.Name, Replicas: int32(a.Replicas)})
	}
	var sumWeight, sumAvailable int64
	for _, c := range kept {
		sumWeight += c.weight
		sumAvailable += max(c.available, 0)
	}
	for _, c := range kept {
		n := got[c.name()]
		verdict := "not chosen: "
		if n > 0 {
			verdict = "chosen: "
		}
		var why string
		switch m {
		case modeStatic:
			why = fmt.Sprintf("weight %d of %d → %s", c.weight, sumWeight, replicaCount(n)) + capped(c, n, replicas, c.weight, sumWeight)
		case modeEven:
			why = fmt.Sprintf("even share among %s → %s", clusterCount(len(kept)), replicaCount(n)) + capped(c, n, replicas, 1, int64(len(kept)))
		case modeDynamic:
			switch {
			case c.available < 0:
				why = "free capacity unknown (no resource summary yet)"
			case c.available == 0:
				why = "no room for a replica"
			default:
				why = fmt.Sprintf("room for %d of %d available replicas → %s", c.available, sumAvailable, replicaCount(n))
			}
		case modeAggregated:
			if n > 0 {
				why = fmt.Sprintf("%s packed here (%s)", replicaCount(n), room(c))
			} else {
				why = fmt.Sprintf("the replicas fit in clusters ahead of it, those already running them or with more room (%s)", room(c))
			}
		}
		notes[c.name()] = verdict + why
	}
	return out, notes, ""
}

// room says how many replicas c has room for.
func room(c *candidate) string {
	if c.available < 0 {
		return "free capacity unknown"
	}
	return "room for " + replicaCount(c.available)
}

// capped notes when c got fewer replicas than its weight's share because
// its room ran out.
func capped(c *candidate, n, replicas, weight, sumWeight int64) string {
	if c.available < 0 || n != c.available || sumWeight == 0 {
		return ""
	}
	if share := math.Floor(float64(replicas) * float64(weight) / float64(sumWeight)); float64(n) < share {
		return fmt.Sprintf(" (capped: room for %s)", replicaCount(n))
	}
	return ""
}
