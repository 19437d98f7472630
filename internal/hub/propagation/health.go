package propagation

import (
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/workload"
)

// The workload rules the hub shares with the agents.
var (
	health        = workload.Health
	trimmedStatus = workload.TrimmedStatus
	kindKey       = workload.KindKey
	statusFields  = workload.StatusFields
)

// aggregate sums the clusters' trimmed statuses for a workload template.
// observedGeneration is set to generation only when current says every
// member acted on the template's current spec. It returns nil for kinds the
// hub does not aggregate.
func aggregate(apiVersion, kind string, generation int64, current bool, clusters []workv1alpha1.ClusterStatus, raw func(workv1alpha1.ClusterStatus) map[string]any) map[string]any {
	fields, ok := statusFields[kindKey(apiVersion, kind)]
	if !ok {
		return nil
	}
	sum := map[string]any{}
	for _, f := range fields {
		sum[f] = int64(0)
	}
	for _, c := range clusters {
		for k, v := range raw(c) {
			if n, ok := v.(int64); ok {
				if cur, ok := sum[k].(int64); ok {
					sum[k] = cur + n
				}
			} else if f, ok := v.(float64); ok {
				if cur, ok := sum[k].(int64); ok {
					sum[k] = cur + int64(f)
				}
			}
		}
	}
	if kind != "Job" && current {
		sum["observedGeneration"] = generation
	}
	return sum
}
