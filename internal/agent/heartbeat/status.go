package heartbeat

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

// StatusOptions configure the status report.
type StatusOptions struct {
	// Cluster is the agent's cluster.
	Cluster string
	// Interval is the time between looks at the local cluster. Default 30s.
	Interval time.Duration
	Log      logr.Logger
}

// statusReport is what the agent writes of its Cluster's status: the
// local cluster's version and summaries. The hub's heartbeat controller
// owns the conditions.
type statusReport struct {
	KubernetesVersion string                           `json:"kubernetesVersion,omitempty"`
	NodeSummary       *clusterv1alpha1.NodeSummary     `json:"nodeSummary,omitempty"`
	ResourceSummary   *clusterv1alpha1.ResourceSummary `json:"resourceSummary,omitempty"`
	// APIEnablements are the kinds the local cluster serves, which the
	// scheduler's API filter reads, as the hub discovers them for Push
	// clusters.
	APIEnablements []clusterv1alpha1.APIEnablement `json:"apiEnablements,omitempty"`
}

// ReportStatus keeps the Cluster's kubernetesVersion, nodeSummary,
// resourceSummary and apiEnablements on the hub in step with the local cluster, writing only
// what changed, until ctx ends.
func ReportStatus(ctx context.Context, hub client.Client, local *rest.Config, o StatusOptions) error {
	if o.Interval == 0 {
		o.Interval = 30 * time.Second
	}
	w, err := member.NewWatcher(local, 0)
	if err != nil {
		return fmt.Errorf("watch the local cluster: %w", err)
	}
	defer w.Stop()
	dc, err := discovery.NewDiscoveryClientForConfig(local)
	if err != nil {
		return err
	}
	var sent *statusReport
	var failing string
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		if err := reportOnce(ctx, hub, dc, w, o.Cluster, &sent); err != nil && ctx.Err() == nil && err.Error() != failing {
			failing = err.Error()
			o.Log.Error(err, "report the cluster's status; retrying", "interval", o.Interval)
		} else if err == nil {
			failing = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func reportOnce(ctx context.Context, hub client.Client, dc *discovery.DiscoveryClient, w *member.Watcher, cluster string, sent **statusReport) error {
	syncCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	synced := w.WaitSynced(syncCtx)
	cancel()
	var r statusReport
	if v, err := dc.ServerVersion(); err == nil {
		r.KubernetesVersion = v.GitVersion
	} else {
		return fmt.Errorf("read the local cluster's version: %w", err)
	}
	if synced {
		ns, rs := w.Summary()
		r.NodeSummary, r.ResourceSummary = &ns, &rs
	}
	var prev []clusterv1alpha1.APIEnablement
	if *sent != nil {
		prev = (*sent).APIEnablements
	}
	// A partial discovery keeps the last known kinds of the group versions
	// that failed; only a complete failure is an error.
	apis, err := member.DiscoverAPIsWith(ctx, dc, prev)
	if err != nil && len(apis) == 0 {
		return fmt.Errorf("discover the local cluster's APIs: %w", err)
	}
	r.APIEnablements = apis
	if *sent != nil && equality.Semantic.DeepEqual(**sent, r) {
		return nil
	}
	body, err := json.Marshal(map[string]any{"status": r})
	if err != nil {
		return err
	}
	c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: cluster}}
	if err := hub.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("patch cluster %s status: %w", cluster, err)
	}
	*sent = &r
	return nil
}
