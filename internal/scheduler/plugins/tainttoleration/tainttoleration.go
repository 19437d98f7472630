// Package tainttoleration keeps templates off clusters whose taints the
// placement does not tolerate, and says when a template must leave a
// cluster it runs on: a NoExecute taint it does not tolerate, or one whose
// tolerationSeconds ran out.
package tainttoleration

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
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
// clusterToleration tolerates. PreferNoSchedule taints never filter, and
// neither does the hub's not-ready taint: the cluster's readiness says it
// better.
func (Plugin) Filter(_ context.Context, p *policyv1alpha1.Placement, c *clusterv1alpha1.Cluster) *framework.Status {
	var tolerations []corev1.Toleration
	if p != nil {
		tolerations = p.ClusterTolerations
	}
	for i := range c.Spec.Taints {
		t := &c.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute || t.Key == clusterv1alpha1.TaintNotReady {
			continue
		}
		if tolerating(t, tolerations) == nil {
			return framework.NewStatus(framework.Unschedulable, Name, "taint %s is not tolerated", t.ToString())
		}
	}
	return nil
}

// Verdict is what the NoExecute taints of a cluster say about a template
// it runs.
type Verdict struct {
	// Reason says why the template must leave; empty when it may stay.
	Reason string
	// Eviction is the eviction reason (workv1alpha1.EvictionClusterFailure
	// or EvictionTaint) when Reason is set.
	Eviction string
	// Until is when the first toleration that is counting down runs out;
	// zero when none is.
	Until time.Time
}

// Running judges a template that runs on c. The not-ready taint is
// tolerated for notReady unless a clusterToleration says otherwise, and for
// ever when stayPut (an Offline Pull cluster that keeps its replicas); other
// NoExecute taints must be tolerated explicitly.
func Running(tolerations []corev1.Toleration, c *clusterv1alpha1.Cluster, now time.Time, notReady time.Duration, stayPut bool) Verdict {
	var v Verdict
	for i := range c.Spec.Taints {
		t := &c.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tol := tolerating(t, tolerations)
		seconds := (*int64)(nil)
		switch {
		case t.Key == clusterv1alpha1.TaintNotReady && stayPut:
			continue
		case tol != nil:
			seconds = tol.TolerationSeconds
		case t.Key == clusterv1alpha1.TaintNotReady:
			s := int64(notReady / time.Second)
			seconds = &s
		default:
			return Verdict{Reason: fmt.Sprintf("taint %s is not tolerated", t.ToString()), Eviction: workv1alpha1.EvictionTaint}
		}
		if seconds == nil {
			continue
		}
		added := now
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		limit := time.Duration(max(*seconds, 0)) * time.Second
		deadline := added.Add(limit)
		if !now.Before(deadline) {
			if t.Key == clusterv1alpha1.TaintNotReady {
				// The message must not change from one pass to the next:
				// it is the binding's condition and events.
				return Verdict{Reason: fmt.Sprintf("not Ready since %s, longer than the failover toleration of %s",
					added.UTC().Format(time.RFC3339), limit), Eviction: workv1alpha1.EvictionClusterFailure}
			}
			return Verdict{Reason: fmt.Sprintf("taint %s tolerated for %s only", t.ToString(), limit), Eviction: workv1alpha1.EvictionTaint}
		}
		if v.Until.IsZero() || deadline.Before(v.Until) {
			v.Until = deadline
		}
	}
	return v
}

func tolerating(t *corev1.Taint, ts []corev1.Toleration) *corev1.Toleration {
	for i := range ts {
		if ts[i].ToleratesTaint(klog.Background(), t, true) {
			return &ts[i]
		}
	}
	return nil
}
