package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestSchedule(t *testing.T) {
	edgeTaint := func(w *clusterWrapper) *clusterWrapper {
		return w.Taint("dedicated", "edge", corev1.TaintEffectNoSchedule)
	}
	cases := map[string]struct {
		spec     *workv1alpha1.BindingSpec
		clusters []clusterv1alpha1.Cluster
		current  []workv1alpha1.TargetCluster
		want     Result
		wantErr  *NoFitError
	}{
		"static weights 2:1": {
			spec:     MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj(),
			clusters: clusters(MakeCluster("member-2"), MakeCluster("member-1")),
			want: Result{
				Clusters: targets("member-1", 2, "member-2", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 2, "chosen: weight 2 of 3 → 2 replicas"),
					chosen("member-2", 1, "chosen: weight 1 of 3 → 1 replica"),
				},
			},
		},
		"a cluster with no weight gets nothing": {
			spec:     MakeSpec(3).Weight(2, "member-1").Weight(1, "member-2").Obj(),
			clusters: clusters(MakeCluster("member-1"), MakeCluster("member-2"), MakeCluster("edge")),
			want: Result{
				Clusters: targets("member-1", 2, "member-2", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("edge", "no weight in staticWeightList"),
					chosen("member-1", 2, "chosen: weight 2 of 3 → 2 replicas"),
					chosen("member-2", 1, "chosen: weight 1 of 3 → 1 replica"),
				},
			},
		},
		"overlapping weight entries: the highest wins": {
			spec: MakeSpec(4).
				WeightFor(1, policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}).
				Weight(3, "member-1").Obj(),
			clusters: clusters(MakeCluster("member-1").Label("env", "prod"), MakeCluster("member-2").Label("env", "prod")),
			want: Result{
				Clusters: targets("member-1", 3, "member-2", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 3, "chosen: weight 3 of 4 → 3 replicas"),
					chosen("member-2", 1, "chosen: weight 1 of 4 → 1 replica"),
				},
			},
		},
		"static weights capped by room": {
			spec:     MakeSpec(6).Weight(1, "member-1", "member-2").Obj(),
			clusters: clusters(MakeCluster("member-1").Pods(1), MakeCluster("member-2")),
			want: Result{
				Clusters: targets("member-1", 1, "member-2", 5),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 1, "chosen: weight 1 of 2 → 1 replica (capped: room for 1 replica)"),
					chosen("member-2", 5, "chosen: weight 1 of 2 → 5 replicas"),
				},
			},
		},
		"every cluster tainted": {
			spec:     MakeSpec(2).Duplicated().Obj(),
			clusters: clusters(edgeTaint(MakeCluster("member-1")), edgeTaint(MakeCluster("member-2"))),
			wantErr: &NoFitError{
				Reason: "no cluster passes the filters",
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "taint dedicated=edge:NoSchedule is not tolerated"),
					notChosen("member-2", "taint dedicated=edge:NoSchedule is not tolerated"),
				},
			},
		},
		"a toleration admits a tainted cluster": {
			spec:     MakeSpec(2).Duplicated().Tolerate("dedicated").Obj(),
			clusters: clusters(edgeTaint(MakeCluster("edge")), MakeCluster("member-1")),
			want: Result{
				Clusters: targets("edge", 2, "member-1", 2),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("edge", 2, "chosen: runs all 2 replicas (Duplicated)"),
					chosen("member-1", 2, "chosen: runs all 2 replicas (Duplicated)"),
				},
			},
		},
		"capacity short everywhere": {
			spec:     MakeSpec(10).Dynamic().Obj(),
			clusters: clusters(MakeCluster("member-1").Pods(2), MakeCluster("member-2").Pods(3), MakeCluster("member-3").NotReady(clusterv1alpha1.ReasonUnreachable)),
			wantErr: &NoFitError{
				Reason: "capacity short: member-1 can take 2 more, member-2 can take 3 more, 5 replicas unplaced",
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "eligible; room for 2 replicas"),
					notChosen("member-2", "eligible; room for 3 replicas"),
					notChosen("member-3", "not Ready (Unreachable)"),
				},
			},
		},
		"dynamic weights by room": {
			spec:     MakeSpec(6).Dynamic().Obj(),
			clusters: clusters(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(20), MakeCluster("member-3"), MakeCluster("member-4").Pods(0)),
			want: Result{
				Clusters: targets("member-1", 2, "member-2", 4),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 2, "chosen: room for 10 of 30 available replicas → 2 replicas"),
					chosen("member-2", 4, "chosen: room for 20 of 30 available replicas → 4 replicas"),
					notChosen("member-3", "not chosen: free capacity unknown (no resource summary yet)"),
					notChosen("member-4", "not chosen: no room for a replica"),
				},
			},
		},
		"no replicas: every eligible cluster gets the template": {
			spec:     MakeSpec(0).Weight(2, "member-1").Obj(),
			clusters: clusters(MakeCluster("member-1"), MakeCluster("edge")),
			want: Result{
				Clusters:  targets("edge", 0, "member-1", 0),
				Decisions: []workv1alpha1.ClusterDecision{chosen("edge", 0, "chosen"), chosen("member-1", 0, "chosen")},
			},
		},
		"more clusters than replicas": {
			spec:     MakeSpec(2).Divided().Obj(),
			clusters: clusters(MakeCluster("d"), MakeCluster("c"), MakeCluster("b"), MakeCluster("a")),
			want: Result{
				Clusters: targets("a", 1, "b", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("a", 1, "chosen: even share among 4 clusters → 1 replica"),
					chosen("b", 1, "chosen: even share among 4 clusters → 1 replica"),
					notChosen("c", "not chosen: even share among 4 clusters → 0 replicas"),
					notChosen("d", "not chosen: even share among 4 clusters → 0 replicas"),
				},
			},
		},
		"clusterAffinities fall back to the second group": {
			spec: MakeSpec(2).Divided().AffinityGroup("primary", "member-1").AffinityGroup("backup", "member-2", "member-3").Obj(),
			clusters: clusters(MakeCluster("member-1").NotReady(clusterv1alpha1.ReasonUnreachable),
				MakeCluster("member-2"), MakeCluster("member-3")),
			want: Result{
				Clusters:     targets("member-2", 1, "member-3", 1),
				AffinityName: "backup",
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", `clusterAffinities group "backup": not in clusterNames`),
					chosen("member-2", 1, "chosen: even share among 2 clusters → 1 replica"),
					chosen("member-3", 1, "chosen: even share among 2 clusters → 1 replica"),
				},
			},
		},
		"clusterAffinities use the first group that fits": {
			spec:     MakeSpec(1).Duplicated().AffinityGroup("primary", "member-1").AffinityGroup("backup", "member-2").Obj(),
			clusters: clusters(MakeCluster("member-1"), MakeCluster("member-2")),
			want: Result{
				Clusters:     targets("member-1", 1),
				AffinityName: "primary",
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 1, "chosen: runs all 1 replica (Duplicated)"),
					notChosen("member-2", `clusterAffinities group "primary": not in clusterNames`),
				},
			},
		},
		"no clusterAffinities group fits": {
			spec: MakeSpec(1).Duplicated().AffinityGroup("primary", "member-1").AffinityGroup("backup", "member-2").Obj(),
			clusters: clusters(MakeCluster("member-1").NotReady(clusterv1alpha1.ReasonUnauthorized),
				edgeTaint(MakeCluster("member-2"))),
			wantErr: &NoFitError{
				Reason: `no clusterAffinities group fits: group "primary": no cluster passes the filters; group "backup": no cluster passes the filters`,
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", `group "primary": not Ready (Unauthorized); group "backup": not in clusterNames`),
					notChosen("member-2", `group "primary": not in clusterNames; group "backup": taint dedicated=edge:NoSchedule is not tolerated`),
				},
			},
		},
		"clusterAffinity": {
			spec:     MakeSpec(1).Duplicated().Affinity("member-2").Obj(),
			clusters: clusters(MakeCluster("member-1"), MakeCluster("member-2")),
			want: Result{
				Clusters: targets("member-2", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "clusterAffinity: not in clusterNames"),
					chosen("member-2", 1, "chosen: runs all 1 replica (Duplicated)"),
				},
			},
		},
		"spread by region, maxGroups 1": {
			spec: MakeSpec(2).Duplicated().Spread(policyv1alpha1.SpreadByFieldRegion, 0, 1).Obj(),
			clusters: clusters(MakeCluster("member-1").Region("us-east"), MakeCluster("member-2").Region("us-east"),
				MakeCluster("member-3").Region("us-west"), MakeCluster("member-4")),
			want: Result{
				Clusters: targets("member-1", 2, "member-2", 2),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 2, "chosen: runs all 2 replicas (Duplicated)"),
					chosen("member-2", 2, "chosen: runs all 2 replicas (Duplicated)"),
					notChosen("member-3", `spread by region: region "us-west" not chosen, maxGroups 1 keeps "us-east"`),
					notChosen("member-4", "spread by region: the cluster has no region"),
				},
			},
		},
		"spread by region keeps the region already running the template": {
			spec:     MakeSpec(2).Duplicated().Spread(policyv1alpha1.SpreadByFieldRegion, 0, 1).Obj(),
			clusters: clusters(MakeCluster("member-1").Region("us-east"), MakeCluster("member-3").Region("us-west")),
			current:  targets("member-3", 2),
			want: Result{
				Clusters: targets("member-3", 2),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", `spread by region: region "us-east" not chosen, maxGroups 1 keeps "us-west"`),
					chosen("member-3", 2, "chosen: runs all 2 replicas (Duplicated)"),
				},
			},
		},
		"spread by region, divided: the region with the most room": {
			spec:     MakeSpec(4).Divided().Spread(policyv1alpha1.SpreadByFieldRegion, 0, 1).Obj(),
			clusters: clusters(MakeCluster("member-1").Region("us-east").Pods(3), MakeCluster("member-2").Region("us-west").Pods(10)),
			want: Result{
				Clusters: targets("member-2", 4),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", `spread by region: region "us-east" not chosen, maxGroups 1 keeps "us-west"`),
					chosen("member-2", 4, "chosen: even share among 1 cluster → 4 replicas"),
				},
			},
		},
		"spread by cluster, maxGroups 2, then by label": {
			spec: MakeSpec(4).Divided().Spread(policyv1alpha1.SpreadByFieldCluster, 0, 2).SpreadByLabel("rack", 1).Obj(),
			clusters: clusters(MakeCluster("a").Label("rack", "r1").Pods(5), MakeCluster("b").Label("rack", "r1").Pods(1),
				MakeCluster("c").Label("rack", "r1").Pods(9), MakeCluster("d").Label("rack", "r2").Pods(2)),
			want: Result{
				Clusters: targets("a", 2, "c", 2),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("a", 2, "chosen: even share among 2 clusters → 2 replicas"),
					notChosen("b", "spread by cluster: not among the 2 clusters chosen (maxGroups 2)"),
					chosen("c", 2, "chosen: even share among 2 clusters → 2 replicas"),
					notChosen("d", `spread by label rack: label rack "r2" not chosen, maxGroups 1 keeps "r1"`),
				},
			},
		},
		"spread by cluster keeps the clusters already running the template": {
			spec:     MakeSpec(1).Duplicated().Spread(policyv1alpha1.SpreadByFieldCluster, 0, 2).Obj(),
			clusters: clusters(MakeCluster("member-0"), MakeCluster("member-1"), MakeCluster("member-2")),
			current:  targets("member-1", 1, "member-2", 1),
			want: Result{
				Clusters: targets("member-1", 1, "member-2", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-0", "spread by cluster: not among the 2 clusters chosen (maxGroups 2)"),
					chosen("member-1", 1, "chosen: runs all 1 replica (Duplicated)"),
					chosen("member-2", 1, "chosen: runs all 1 replica (Duplicated)"),
				},
			},
		},
		"spread minGroups not met": {
			spec:     MakeSpec(1).Duplicated().Spread(policyv1alpha1.SpreadByFieldZone, 3, 0).Obj(),
			clusters: clusters(MakeCluster("member-1").Zone("z1"), MakeCluster("member-2").Zone("z2"), MakeCluster("member-3").Zone("z2")),
			wantErr: &NoFitError{
				Reason: `spread by zone needs at least 3 zones, but only 2 are eligible ("z1", "z2")`,
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "eligible"), notChosen("member-2", "eligible"), notChosen("member-3", "eligible"),
				},
			},
		},
		"served APIs": {
			spec: MakeSpec(1).Duplicated().Obj(),
			clusters: clusters(MakeCluster("member-1").Serves("apps/v1", "Deployment", "StatefulSet"),
				MakeCluster("member-2").Serves("apps/v1", "StatefulSet").Serves("batch/v1", "Job"),
				MakeCluster("member-3")),
			want: Result{
				Clusters: targets("member-1", 1, "member-3", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					chosen("member-1", 1, "chosen: runs all 1 replica (Duplicated)"),
					notChosen("member-2", "cluster does not serve apps/v1 Deployment"),
					chosen("member-3", 1, "chosen: runs all 1 replica (Duplicated)"),
				},
			},
		},
		"not Ready, never probed and being deleted": {
			spec: MakeSpec(1).Obj(),
			clusters: clusters(MakeCluster("member-1").NotReady(clusterv1alpha1.ReasonUnreachable), MakeCluster("member-2").Deleting(),
				MakeCluster("member-3").Unprobed(), MakeCluster("member-4")),
			want: Result{
				Clusters: targets("member-4", 1),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "not Ready (Unreachable)"),
					notChosen("member-2", "being deleted"),
					notChosen("member-3", "not Ready: not probed yet"),
					chosen("member-4", 1, "chosen: runs all 1 replica (Duplicated)"),
				},
			},
		},
		"aggregated keeps replicas where they run": {
			spec:     MakeSpec(3).Aggregated().Obj(),
			clusters: clusters(MakeCluster("member-1").Pods(10), MakeCluster("member-2").Pods(2)),
			current:  targets("member-2", 3),
			want: Result{
				Clusters: targets("member-2", 3),
				Decisions: []workv1alpha1.ClusterDecision{
					notChosen("member-1", "not chosen: the replicas fit in clusters ahead of it, those already running them or with more room (room for 10 replicas)"),
					chosen("member-2", 3, "chosen: 3 replicas packed here (room for 5 replicas)"),
				},
			},
		},
		"no clusters": {
			spec:    MakeSpec(1).Obj(),
			wantErr: &NoFitError{Reason: "there are no member clusters", Decisions: []workv1alpha1.ClusterDecision{}},
		},
		"every eligible cluster lacks a weight": {
			spec:     MakeSpec(2).Weight(1, "member-9").Obj(),
			clusters: clusters(MakeCluster("member-1")),
			wantErr: &NoFitError{
				Reason:    "no eligible cluster has a weight in staticWeightList",
				Decisions: []workv1alpha1.ClusterDecision{notChosen("member-1", "no weight in staticWeightList")},
			},
		},
	}
	ignoreInputs := cmpopts.IgnoreFields(Result{}, "Inputs")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Schedule(tc.spec, tc.clusters, tc.current)
			if tc.wantErr != nil {
				var nf *NoFitError
				if !errors.As(err, &nf) {
					t.Fatalf("err = %v, want a NoFitError", err)
				}
				if diff := cmp.Diff(tc.wantErr, nf); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(nf.Decisions, got.Decisions); diff != "" {
					t.Errorf("the Result's decisions differ from the error's:\n%s", diff)
				}
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if diff := cmp.Diff(tc.want, got, ignoreInputs); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
			if got.Inputs == "" {
				t.Error("no Inputs fingerprint")
			}
			// The order of the clusters does not matter.
			rev := slices.Clone(tc.clusters)
			slices.Reverse(rev)
			again, _ := Schedule(tc.spec, rev, tc.current)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("reversed clusters changed the result:\n%s", diff)
			}
		})
	}
}

func TestNoFitErrorMessage(t *testing.T) {
	err := &NoFitError{Reason: "no cluster passes the filters", Decisions: []workv1alpha1.ClusterDecision{
		notChosen("member-1", "not Ready (Unreachable)"), notChosen("member-2", "being deleted")}}
	want := "no cluster passes the filters: member-1: not Ready (Unreachable); member-2: being deleted"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err.Error(), want)
	}
	for i := range 30 {
		err.Decisions = append(err.Decisions, notChosen(strings.Repeat("x", i+1), "not Ready"))
	}
	if msg := err.Error(); !strings.HasSuffix(msg, "; and 12 more clusters, see status.decisions") {
		t.Errorf("a long list is not cut: %q", msg)
	}
}

// TestInputs checks that the fingerprint moves with what changes a decision
// and stays put under what must not reshuffle replicas.
func TestInputs(t *testing.T) {
	// member-0 joins in one case; outsider is never eligible.
	members := []string{"member-0", "member-1", "member-2", "member-3"}
	staticSpec := MakeSpec(3).Affinity(members...).
		Weight(2, "member-0", "member-1").Weight(1, "member-2").Spread(policyv1alpha1.SpreadByFieldRegion, 0, 2).Obj()
	dynamicSpec := MakeSpec(6).Affinity(members...).Dynamic().Spread(policyv1alpha1.SpreadByFieldRegion, 0, 2).Obj()
	base := func() []*clusterWrapper {
		return []*clusterWrapper{
			MakeCluster("member-1").Region("eu").Pods(10),
			MakeCluster("member-2").Region("us").Pods(20),
			MakeCluster("member-3").Region("us").Pods(5),
			MakeCluster("outsider").Region("ap").Pods(50),
		}
	}
	cases := map[string]struct {
		change func([]*clusterWrapper) []*clusterWrapper
		same   bool
	}{
		"nothing": {
			change: func(cs []*clusterWrapper) []*clusterWrapper { return cs }, same: true},
		"free capacity of a chosen cluster": {
			change: func(cs []*clusterWrapper) []*clusterWrapper { cs[0].Pods(1); return cs }, same: true},
		"an unrelated cluster changes every way": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				cs[3].Pods(0).Label("team", "x").Region("eu").NotReady(clusterv1alpha1.ReasonUnreachable)
				return cs
			}, same: true},
		"a chosen cluster's probe message": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				cs[0].Status.Conditions[0].Message = "1 of 2 allowed probe failures"
				return cs
			}, same: true},
		// A cluster that runs the template keeps it through a not-Ready
		// spell: moving it is failover's decision, not the scheduler's.
		"a chosen cluster goes not Ready": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				cs[1].NotReady(clusterv1alpha1.ReasonUnreachable)
				return cs
			}, same: true},
		"a chosen cluster moves region": {
			change: func(cs []*clusterWrapper) []*clusterWrapper { cs[1].Region("eu"); return cs }},
		"a new eligible cluster": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				return append(cs, MakeCluster("member-0").Region("eu"))
			}},
		// NoSchedule (cordon) keeps new templates off, not running ones.
		"a chosen cluster is cordoned": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				cs[0].Taint("maintenance", "", corev1.TaintEffectNoSchedule)
				return cs
			}, same: true},
		"a chosen cluster is drained": {
			change: func(cs []*clusterWrapper) []*clusterWrapper {
				cs[0].Taint("maintenance", "", corev1.TaintEffectNoExecute)
				return cs
			}},
		"a chosen cluster stops serving the kind": {
			change: func(cs []*clusterWrapper) []*clusterWrapper { cs[0].Serves("v1", "Pod"); return cs }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for specName, spec := range map[string]*workv1alpha1.BindingSpec{"static": staticSpec, "dynamic": dynamicSpec} {
				before, err := Schedule(spec, clusters(base()...), nil)
				if err != nil {
					t.Fatalf("%s: %v", specName, err)
				}
				after, _ := Schedule(spec, clusters(tc.change(base())...), before.Clusters)
				if same := before.Inputs == after.Inputs; same != tc.same {
					t.Errorf("%s: inputs unchanged = %v, want %v", specName, same, tc.same)
				}
			}
		})
	}
}

// TestRescheduleIsStable schedules again with the current decision after an
// unrelated change: nothing moves.
func TestRescheduleIsStable(t *testing.T) {
	specs := map[string]*workv1alpha1.BindingSpec{
		"static":     MakeSpec(5).Weight(2, "member-1").Weight(1, "member-2", "member-3").Obj(),
		"even":       MakeSpec(5).Divided().Obj(),
		"aggregated": MakeSpec(5).Aggregated().Obj(),
		"duplicated": MakeSpec(5).Duplicated().Spread(policyv1alpha1.SpreadByFieldCluster, 0, 2).Obj(),
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			cs := clusters(MakeCluster("member-1").Pods(4), MakeCluster("member-2").Pods(10), MakeCluster("member-3").Pods(10))
			first, err := Schedule(spec, cs, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The workload now runs: its replicas use room, and an
			// unrelated cluster joins the fleet not Ready.
			for i := range cs {
				for _, tc := range first.Clusters {
					if tc.Name == cs[i].Name {
						cs[i].Status.ResourceSummary.Requested[corev1.ResourcePods] = *resource.NewQuantity(110-10+int64(tc.Replicas), resource.DecimalSI)
					}
				}
			}
			cs = append(cs, MakeCluster("member-0").NotReady(clusterv1alpha1.ReasonPending).Obj())
			again, err := Schedule(spec, cs, first.Clusters)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(first.Clusters, again.Clusters); diff != "" {
				t.Errorf("replicas moved:\n%s", diff)
			}
			if first.Inputs != again.Inputs {
				t.Error("inputs changed")
			}
		})
	}
}

func TestFreeReplicas(t *testing.T) {
	q := resource.MustParse
	list := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = q(kv[i+1])
		}
		return l
	}
	cases := map[string]struct {
		cluster *clusterWrapper
		req     corev1.ResourceList
		want    int64
	}{
		"no summary yet": {MakeCluster("c"), list("cpu", "1"), -1},
		"pods only": {MakeCluster("c").Capacity(list("pods", "110"), list("pods", "100"), list("pods", "5")),
			nil, 5},
		"the scarcest resource limits": {MakeCluster("c").Capacity(list("cpu", "4", "memory", "8Gi", "pods", "110"), list("cpu", "1500m", "memory", "6Gi"), nil),
			list("cpu", "500m", "memory", "1Gi"), 2},
		"cpu": {MakeCluster("c").Capacity(list("cpu", "4", "memory", "8Gi", "pods", "110"), list("cpu", "1500m"), nil),
			list("cpu", "500m"), 5},
		"a resource the cluster lacks": {MakeCluster("c").Capacity(list("cpu", "4", "pods", "110"), nil, nil),
			list("cpu", "1", "nvidia.com/gpu", "1"), 0},
		"unreported ephemeral storage is ignored": {MakeCluster("c").Capacity(list("cpu", "4", "pods", "110"), nil, nil),
			list("cpu", "1", "ephemeral-storage", "1Gi"), 4},
		"overcommitted": {MakeCluster("c").Capacity(list("cpu", "4", "pods", "110"), list("cpu", "5"), nil),
			list("cpu", "1"), 0},
		"large memory": {MakeCluster("c").Capacity(list("memory", "64Pi"), nil, nil),
			list("memory", "1Ti"), 65536},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := tc.cluster.Obj()
			if got := freeReplicas(&c, tc.req); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
