package doctor

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// checkPullClusters reports, for each Pull cluster, whether its agent
// heartbeats and what its offline policy does with its replicas. An
// Offline cluster is a warning, not a failure: edge links drop.
func checkPullClusters(ctx context.Context, e *Env) Result {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	var ev, offline []string
	pull := 0
	for i := range cls {
		c := &cls[i]
		if c.Spec.SyncMode != clusterv1alpha1.Pull {
			continue
		}
		pull++
		policy := string(c.Spec.Offline)
		if policy == "" {
			policy = string(clusterv1alpha1.OfflineStayPut) + " (default)"
		}
		off := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionOffline)
		switch {
		case off == nil:
			ev = append(ev, fmt.Sprintf("%s: no heartbeat yet; offline policy %s", c.Name, policy))
			offline = append(offline, c.Name)
		case off.Status == metav1.ConditionTrue:
			ev = append(ev, fmt.Sprintf("%s: Offline for %s (%s); offline policy %s", c.Name, approx(max(e.Now.Sub(off.LastTransitionTime.Time), 0)), off.Reason, policy))
			offline = append(offline, c.Name)
		default:
			ev = append(ev, fmt.Sprintf("%s: heartbeating (online for %s); offline policy %s", c.Name, approx(max(e.Now.Sub(off.LastTransitionTime.Time), 0)), policy))
		}
	}
	if pull == 0 {
		return skip("no cluster is in Pull mode", "there are no Pull clusters to check")
	}
	if len(offline) > 0 {
		return warn(fmt.Sprintf("%d of %s not heartbeating: %v", len(offline), plural(pull, "Pull cluster is", "Pull clusters are"), offline),
			"check that each agent runs on its edge machine (flotilla agent --dir DIR) and reaches the hub; its workloads follow its offline policy meanwhile", ev...)
	}
	return pass(all(pull, "Pull cluster", "Pull clusters", "heartbeats", "heartbeat"), ev...)
}
