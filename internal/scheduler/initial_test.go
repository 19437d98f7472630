package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// TestInitialPlacementIsTheSchedulersDecision: the placement the detector
// writes into a new binding is the one the scheduler then decides on the
// same clusters, so that the scheduler only records it; nothing fitting
// gives nil, left to the scheduler to explain.
func TestInitialPlacementIsTheSchedulersDecision(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clusters := []clusterv1alpha1.Cluster{MakeCluster("m2").Obj(), MakeCluster("m1").Obj(), MakeCluster("m3").NotReady("Unreachable").Obj()}
	for name, tc := range map[string]struct {
		spec *workv1alpha1.BindingSpec
		want []workv1alpha1.TargetCluster
	}{
		"weighted 2:1": {
			spec: MakeSpec(3).Divided().Weight(2, "m1").Weight(1, "m2").Obj(),
			want: []workv1alpha1.TargetCluster{{Name: "m1", Replicas: 2}, {Name: "m2", Replicas: 1}},
		},
		"nothing fits": {spec: MakeSpec(1).Affinity("elsewhere").Obj()},
	} {
		t.Run(name, func(t *testing.T) {
			got := InitialPlacement(tc.spec, clusters, time.Minute, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("InitialPlacement (-want +got):\n%s", diff)
			}
			res, err := ScheduleWith(tc.spec, clusters, got, Options{Now: now, DefaultToleration: time.Minute})
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ScheduleWith placed %v where InitialPlacement found nothing", res.Clusters)
				}
				return
			}
			if err != nil || !cmp.Equal(res.Clusters, got) {
				t.Fatalf("the scheduler decides %v (%v) on the initial placement %v: it would write spec.clusters again", res.Clusters, err, got)
			}
		})
	}
}
