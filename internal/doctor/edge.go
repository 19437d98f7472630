package doctor

import (
	"context"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// ReasonNoAgents is why the checks of pull-mode agents are skipped.
const ReasonNoAgents = "pull-mode agents are not available yet (issue: pull-mode agent)"

func checkPullClusters(ctx context.Context, e *Env) Result {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	var ev []string
	for _, c := range cls {
		if c.Spec.SyncMode == clusterv1alpha1.Pull {
			ev = append(ev, c.Name+": syncMode Pull: no agent heartbeats for it, and the hub does not probe it")
		}
	}
	summary := "no cluster is in Pull mode; heartbeats and the offline policy are not checked"
	if len(ev) > 0 {
		summary = plural(len(ev), "cluster is", "clusters are") + " in Pull mode; heartbeats and the offline policy are not checked"
	}
	return skip(summary, ReasonNoAgents, ev...)
}
