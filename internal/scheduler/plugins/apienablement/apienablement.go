// Package apienablement keeps templates off clusters whose API servers do
// not serve the template's kind, as the cluster's status.apiEnablements
// reports it.
package apienablement

import (
	"context"
	"slices"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/scheduler/framework"
)

// Name of the plugin.
const Name = "APIEnablement"

// Plugin filters clusters by the template's apiVersion and kind. The
// placement does not carry them, so the scheduler makes one Plugin per
// template.
type Plugin struct {
	// APIVersion of the template, for example apps/v1 or v1.
	APIVersion string
	// Kind of the template, for example Deployment.
	Kind string
}

var _ framework.FilterPlugin = Plugin{}

// Name returns the plugin's name.
func (Plugin) Name() string { return Name }

// Filter admits a cluster whose status.apiEnablements lists the template's
// apiVersion and kind. A cluster whose apiEnablements are empty has not been
// discovered yet and is admitted, so that a new cluster is not shunned until
// its first discovery; a Plugin without APIVersion or Kind admits every
// cluster.
func (p Plugin) Filter(_ context.Context, _ *policyv1alpha1.Placement, c *clusterv1alpha1.Cluster) *framework.Status {
	if p.APIVersion == "" || p.Kind == "" || len(c.Status.APIEnablements) == 0 {
		return nil
	}
	if Serves(c.Status.APIEnablements, p.APIVersion, p.Kind) {
		return nil
	}
	return framework.NewStatus(framework.Unschedulable, Name, "cluster does not serve %s %s", p.APIVersion, p.Kind)
}

// Serves reports whether enablements list kind in apiVersion.
func Serves(enablements []clusterv1alpha1.APIEnablement, apiVersion, kind string) bool {
	for i := range enablements {
		if enablements[i].GroupVersion == apiVersion {
			return slices.Contains(enablements[i].Kinds, kind)
		}
	}
	return false
}
