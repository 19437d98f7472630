// Package tainttoleration keeps templates off clusters whose NoSchedule or
// NoExecute taints the placement does not tolerate.
package tainttoleration

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/framework"
)

// Name of the plugin.
const Name = "TaintToleration"

// Plugin filters by taints and tolerations.
type Plugin struct{}

var _ framework.FilterPlugin = Plugin{}

// Name returns the plugin's name.
func (Plugin) Name() string { return Name }

// Filter rejects a cluster with a NoSchedule or NoExecute taint that no
// clusterToleration tolerates. PreferNoSchedule taints never filter.
func (Plugin) Filter(_ context.Context, p *policyv1alpha1.Placement, c *clusterv1alpha1.Cluster) *framework.Status {
	var tolerations []corev1.Toleration
	if p != nil {
		tolerations = p.ClusterTolerations
	}
	for i := range c.Spec.Taints {
		t := &c.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerated(t, tolerations) {
			return framework.NewStatus(framework.Unschedulable, Name, "taint %s is not tolerated", t.ToString())
		}
	}
	return nil
}

func tolerated(t *corev1.Taint, ts []corev1.Toleration) bool {
	for i := range ts {
		if ts[i].ToleratesTaint(klog.Background(), t, true) {
			return true
		}
	}
	return false
}
