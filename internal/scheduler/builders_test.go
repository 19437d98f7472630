package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// clusterWrapper builds test Clusters: MakeCluster("m1").Region("eu").Obj().
type clusterWrapper struct{ clusterv1alpha1.Cluster }

// MakeCluster is a Ready cluster with no capacity reported yet.
func MakeCluster(name string) *clusterWrapper {
	w := &clusterWrapper{clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}}
	w.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: clusterv1alpha1.ReasonHealthy}}
	return w
}

func (w *clusterWrapper) NotReady(reason string) *clusterWrapper {
	w.Status.Conditions = []metav1.Condition{{Type: clusterv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason}}
	return w
}

func (w *clusterWrapper) Unprobed() *clusterWrapper {
	w.Status.Conditions = nil
	return w
}

func (w *clusterWrapper) Deleting() *clusterWrapper {
	now := metav1.Now()
	w.DeletionTimestamp = &now
	w.Finalizers = []string{"test"}
	return w
}

func (w *clusterWrapper) Region(r string) *clusterWrapper   { w.Spec.Region = r; return w }
func (w *clusterWrapper) Zone(z string) *clusterWrapper     { w.Spec.Zone = z; return w }
func (w *clusterWrapper) Provider(p string) *clusterWrapper { w.Spec.Provider = p; return w }

func (w *clusterWrapper) Label(k, v string) *clusterWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

func (w *clusterWrapper) Taint(key, value string, effect corev1.TaintEffect) *clusterWrapper {
	w.Spec.Taints = append(w.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	return w
}

// Pods reports room for free more pods, and plenty of cpu and memory.
func (w *clusterWrapper) Pods(free int64) *clusterWrapper {
	return w.Capacity(corev1.ResourceList{
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
	}, corev1.ResourceList{
		corev1.ResourcePods: *resource.NewQuantity(110-free, resource.DecimalSI),
	}, nil)
}

func (w *clusterWrapper) Capacity(allocatable, requested, allocating corev1.ResourceList) *clusterWrapper {
	w.Status.ResourceSummary = &clusterv1alpha1.ResourceSummary{Allocatable: allocatable, Requested: requested, Allocating: allocating}
	return w
}

func (w *clusterWrapper) Serves(groupVersion string, kinds ...string) *clusterWrapper {
	w.Status.APIEnablements = append(w.Status.APIEnablements, clusterv1alpha1.APIEnablement{GroupVersion: groupVersion, Kinds: kinds})
	return w
}

func (w *clusterWrapper) Obj() clusterv1alpha1.Cluster { return *w.DeepCopy() }

// specWrapper builds test BindingSpecs for an apps/v1 Deployment.
type specWrapper struct{ workv1alpha1.BindingSpec }

func MakeSpec(replicas int32) *specWrapper {
	return &specWrapper{workv1alpha1.BindingSpec{
		Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: "web"},
		Replicas: replicas,
		Policy:   workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: "default", Name: "web"},
	}}
}

func (w *specWrapper) Resource(apiVersion, kind string) *specWrapper {
	w.BindingSpec.Resource.APIVersion, w.BindingSpec.Resource.Kind = apiVersion, kind
	return w
}

func (w *specWrapper) Duplicated() *specWrapper {
	w.Placement.ReplicaScheduling = &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated}
	return w
}

func (w *specWrapper) Divided() *specWrapper {
	w.Placement.ReplicaScheduling = &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDivided}
	return w
}

func (w *specWrapper) Aggregated() *specWrapper {
	w.Divided().Placement.ReplicaScheduling.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceAggregated
	return w
}

func (w *specWrapper) Dynamic() *specWrapper {
	rs := w.Divided().Placement.ReplicaScheduling
	rs.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceWeighted
	rs.WeightPreference = &policyv1alpha1.ClusterPreferences{DynamicWeight: policyv1alpha1.DynamicWeightByAvailableReplicas}
	return w
}

// Weight adds a staticWeightList entry for the named clusters.
func (w *specWrapper) Weight(weight int64, clusters ...string) *specWrapper {
	return w.WeightFor(weight, policyv1alpha1.ClusterAffinity{ClusterNames: clusters})
}

func (w *specWrapper) WeightFor(weight int64, target policyv1alpha1.ClusterAffinity) *specWrapper {
	rs := w.Placement.ReplicaScheduling
	if rs == nil || rs.WeightPreference == nil {
		rs = w.Divided().Placement.ReplicaScheduling
		rs.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceWeighted
		rs.WeightPreference = &policyv1alpha1.ClusterPreferences{}
	}
	rs.WeightPreference.StaticWeightList = append(rs.WeightPreference.StaticWeightList,
		policyv1alpha1.StaticClusterWeight{TargetCluster: target, Weight: weight})
	return w
}

func (w *specWrapper) Affinity(names ...string) *specWrapper {
	w.Placement.ClusterAffinity = &policyv1alpha1.ClusterAffinity{ClusterNames: names}
	return w
}

func (w *specWrapper) AffinityGroup(name string, clusters ...string) *specWrapper {
	w.Placement.ClusterAffinities = append(w.Placement.ClusterAffinities, policyv1alpha1.ClusterAffinityTerm{
		AffinityName: name, ClusterAffinity: policyv1alpha1.ClusterAffinity{ClusterNames: clusters}})
	return w
}

func (w *specWrapper) Tolerate(key string) *specWrapper {
	w.Placement.ClusterTolerations = append(w.Placement.ClusterTolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	return w
}

func (w *specWrapper) Spread(field policyv1alpha1.SpreadField, minGroups, maxGroups int32) *specWrapper {
	w.Placement.SpreadConstraints = append(w.Placement.SpreadConstraints,
		policyv1alpha1.SpreadConstraint{SpreadByField: field, MinGroups: minGroups, MaxGroups: maxGroups})
	return w
}

func (w *specWrapper) SpreadByLabel(label string, maxGroups int32) *specWrapper {
	w.Placement.SpreadConstraints = append(w.Placement.SpreadConstraints,
		policyv1alpha1.SpreadConstraint{SpreadByLabel: label, MaxGroups: maxGroups})
	return w
}

func (w *specWrapper) Requests(cpu, memory string) *specWrapper {
	w.ReplicaRequirements = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
	return w
}

func (w *specWrapper) Obj() *workv1alpha1.BindingSpec { return w.DeepCopy() }

// targets is a decision: name, replicas, name, replicas...
func targets(kv ...any) []workv1alpha1.TargetCluster {
	var out []workv1alpha1.TargetCluster
	for i := 0; i < len(kv); i += 2 {
		out = append(out, workv1alpha1.TargetCluster{Name: kv[i].(string), Replicas: int32(kv[i+1].(int))})
	}
	return out
}

func chosen(name string, replicas int32, reason string) workv1alpha1.ClusterDecision {
	return workv1alpha1.ClusterDecision{Cluster: name, Chosen: true, Replicas: replicas, Reason: reason}
}

func notChosen(name, reason string) workv1alpha1.ClusterDecision {
	return workv1alpha1.ClusterDecision{Cluster: name, Reason: reason}
}

func clusters(ws ...*clusterWrapper) []clusterv1alpha1.Cluster {
	out := make([]clusterv1alpha1.Cluster, len(ws))
	for i, w := range ws {
		out[i] = w.Obj()
	}
	return out
}
