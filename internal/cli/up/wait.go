package up

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// waitReady waits until n clusters are Ready with a node summary, which
// shows the hub controller runs and reaches every member.
func waitReady(ctx context.Context, home string, n int, timeout time.Duration, w io.Writer) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", localfleet.HubKubeconfig(home))
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "waiting for the hub to report %d clusters Ready\n", n)
	var last string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var l clusterv1alpha1.ClusterList
		if err := c.List(ctx, &l); err != nil {
			if ctx.Err() == nil {
				last = " (" + err.Error() + ")"
			}
			return false, nil
		}
		ready := 0
		last = ""
		for _, cl := range l.Items {
			if meta.IsStatusConditionPresentAndEqual(cl.Status.Conditions, clusterv1alpha1.ConditionReady, metav1.ConditionTrue) && cl.Status.NodeSummary != nil {
				ready++
			} else {
				last += " " + cl.Name
			}
		}
		return ready >= n, nil
	})
	if err != nil {
		return fmt.Errorf("clusters not Ready after %s (waiting on:%s); see `flotilla describe cluster NAME` and %s/hub/run/flotilla-hub.log", timeout, last, home)
	}
	return nil
}
