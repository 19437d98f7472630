package cordon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

const unschedulable = clusterv1alpha1.TaintUnschedulable

func TestCordonTaints(t *testing.T) {
	before := metav1.NewTime(now.Add(-time.Hour))
	added := metav1.NewTime(now)
	noSchedule := corev1.Taint{Key: unschedulable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &before}
	noExecute := corev1.Taint{Key: unschedulable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &before}
	newNoSchedule := corev1.Taint{Key: unschedulable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &added}
	newNoExecute := corev1.Taint{Key: unschedulable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	other := corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}
	for name, tc := range map[string]struct {
		have        []corev1.Taint
		drain       bool
		want        []corev1.Taint
		wantChanged bool
	}{
		"cordon":                    {want: []corev1.Taint{newNoSchedule}, wantChanged: true},
		"cordon keeps other taints": {have: []corev1.Taint{other}, want: []corev1.Taint{other, newNoSchedule}, wantChanged: true},
		"cordon again":              {have: []corev1.Taint{noSchedule}, want: []corev1.Taint{noSchedule}},
		"cordon a draining cluster": {have: []corev1.Taint{noSchedule, noExecute}, want: []corev1.Taint{noSchedule, noExecute}},
		"drain":                     {drain: true, want: []corev1.Taint{newNoSchedule, newNoExecute}, wantChanged: true},
		"drain a cordoned cluster":  {have: []corev1.Taint{other, noSchedule}, drain: true, want: []corev1.Taint{other, noSchedule, newNoExecute}, wantChanged: true},
		"drain again":               {have: []corev1.Taint{noExecute, noSchedule}, drain: true, want: []corev1.Taint{noExecute, noSchedule}},
		"a value still counts as cordoned": {have: []corev1.Taint{{Key: unschedulable, Value: "maintenance", Effect: corev1.TaintEffectNoSchedule}},
			want: []corev1.Taint{{Key: unschedulable, Value: "maintenance", Effect: corev1.TaintEffectNoSchedule}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, changed := cordonTaints(tc.have, tc.drain, now)
			if changed != tc.wantChanged {
				t.Errorf("changed: got %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUncordonTaints(t *testing.T) {
	other := corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule}
	notReady := corev1.Taint{Key: clusterv1alpha1.TaintNotReady, Effect: corev1.TaintEffectNoExecute}
	got, changed := uncordonTaints([]corev1.Taint{other, {Key: unschedulable, Effect: corev1.TaintEffectNoSchedule},
		notReady, {Key: unschedulable, Value: "x", Effect: corev1.TaintEffectNoExecute}})
	if !changed {
		t.Error("changed: got false")
	}
	if diff := cmp.Diff([]corev1.Taint{other, notReady}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, changed := uncordonTaints([]corev1.Taint{other}); changed {
		t.Error("uncordoning an uncordoned cluster changed it")
	}
}

func pullCluster(name string, taints ...corev1.Taint) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull, Taints: taints}}
}

// TestCordonKeepsConcurrentTaint: the hub adds its not-ready taint between
// the read and the write of a cordon; the cordon retries on a fresh read
// and both taints remain.
func TestCordonKeepsConcurrentTaint(t *testing.T) {
	ctx := context.Background()
	notReady := corev1.Taint{Key: clusterv1alpha1.TaintNotReady, Effect: corev1.TaintEffectNoExecute}
	patches := 0
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(pullCluster("edge")).
		WithInterceptorFuncs(interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patches++
			if patches == 1 {
				var cl clusterv1alpha1.Cluster
				if err := c.Get(ctx, client.ObjectKey{Name: obj.GetName()}, &cl); err != nil {
					return err
				}
				cl.Spec.Taints = append(cl.Spec.Taints, notReady)
				if err := c.Update(ctx, &cl); err != nil {
					return err
				}
			}
			return c.Patch(ctx, obj, patch, opts...)
		}}).Build()

	changed, err := Cordon(ctx, c, "edge", false, now)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("changed: got false")
	}
	if patches != 2 {
		t.Errorf("patches: got %d, want 2 (a conflict, then the retry)", patches)
	}
	var cl clusterv1alpha1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: "edge"}, &cl); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tn := range cl.Spec.Taints {
		keys = append(keys, tn.ToString())
	}
	want := []string{clusterv1alpha1.TaintNotReady + ":NoExecute", unschedulable + ":NoSchedule"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
}

func TestTaintErrors(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(
		pullCluster("edge", corev1.Taint{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule})).Build()
	for name, tc := range map[string]struct {
		cluster, spec, wantErr string
	}{
		"unknown cluster": {cluster: "x", spec: "a:NoSchedule", wantErr: `cluster "x" not found; see flotilla get clusters`},
		"other value":     {cluster: "edge", spec: "dedicated=batch:NoSchedule", wantErr: `cluster "edge": the cluster already has taint dedicated=edge:NoSchedule`},
		"remove missing":  {cluster: "edge", spec: "other-", wantErr: `cluster "edge": taint other not found`},
	} {
		t.Run(name, func(t *testing.T) {
			ch, err := ParseTaints([]string{tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Taint(ctx, c, tc.cluster, ch, false, now)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error starting %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Cordon(ctx, c, "x", false, now); err == nil || err.Error() != `cluster "x" not found; see flotilla get clusters` {
		t.Errorf("cordon unknown cluster: got %v", err)
	}
	if _, err := Uncordon(ctx, c, "x"); err == nil || err.Error() != `cluster "x" not found; see flotilla get clusters` {
		t.Errorf("uncordon unknown cluster: got %v", err)
	}
}
