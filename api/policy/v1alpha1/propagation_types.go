package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PropagationPolicy propagates templates of its own namespace to member
// clusters.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pp,categories=flotilla
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Conflict",type=string,JSONPath=`.spec.conflictResolution`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PropagationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says what to propagate and where.
	// +required
	Spec PropagationSpec `json:"spec"`
}

// PropagationPolicyList is a list of PropagationPolicies.
//
// +kubebuilder:object:root=true
type PropagationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PropagationPolicy `json:"items"`
}

// ClusterPropagationPolicy propagates cluster-scoped templates, and
// namespaced templates of any namespace, to member clusters. A
// PropagationPolicy that matches the same template takes precedence.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cpp,categories=flotilla
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Conflict",type=string,JSONPath=`.spec.conflictResolution`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterPropagationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says what to propagate and where.
	// +required
	Spec PropagationSpec `json:"spec"`
}

// ClusterPropagationPolicyList is a list of ClusterPropagationPolicies.
//
// +kubebuilder:object:root=true
type ClusterPropagationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterPropagationPolicy `json:"items"`
}

// PropagationSpec is what a propagation policy says.
type PropagationSpec struct {
	// resourceSelectors choose the templates this policy propagates. A
	// template matches when any selector matches it.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +required
	ResourceSelectors []ResourceSelector `json:"resourceSelectors"`

	// propagateDeps makes the ConfigMaps, Secrets, ServiceAccounts and
	// PersistentVolumeClaims a workload references follow it to the same
	// clusters, and leave with it.
	// +optional
	PropagateDeps bool `json:"propagateDeps,omitempty"`

	// placement says which clusters get the templates, and how replicas
	// are divided among them.
	// +optional
	Placement Placement `json:"placement,omitempty"`

	// priority orders policies that match the same template: the highest
	// wins. Then the most specific selector (name over labelSelector over
	// kind only), then the policy's name.
	// +kubebuilder:default=0
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// preemption says whether this policy takes templates already claimed
	// by another policy it outranks: one of lower priority, or, for a
	// PropagationPolicy, a ClusterPropagationPolicy. Always or Never (the
	// default). Without it a template stays with the policy that claimed it.
	// +kubebuilder:default=Never
	// +optional
	Preemption PreemptionBehavior `json:"preemption,omitempty"`

	// conflictResolution says what to do when an object of the same name
	// already exists in a member and Flotilla did not create it: Abort
	// (the default) leaves it alone and reports the conflict; Overwrite
	// takes it over.
	// +kubebuilder:default=Abort
	// +optional
	ConflictResolution ConflictResolution `json:"conflictResolution,omitempty"`

	// preserveResourcesOnDeletion keeps the objects in the members when the
	// template is deleted or a cluster leaves the placement.
	// +optional
	PreserveResourcesOnDeletion *bool `json:"preserveResourcesOnDeletion,omitempty"`

	// suspension pauses the propagation of changes, to all clusters or to
	// some.
	// +optional
	Suspension *Suspension `json:"suspension,omitempty"`

	// failover says when workloads leave clusters that fail, how gently,
	// and whether they come back.
	// +optional
	Failover *FailoverBehavior `json:"failover,omitempty"`
}

// ResourceSelector chooses templates on the hub.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.name) && has(self.labelSelector))",message="name and labelSelector are exclusive: name one template or select by labels"
type ResourceSelector struct {
	// apiVersion of the templates, for example apps/v1.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	// +required
	APIVersion string `json:"apiVersion"`

	// kind of the templates, for example Deployment.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Kind string `json:"kind"`

	// namespace of the templates. A PropagationPolicy only ever selects in
	// its own namespace; empty means all namespaces for a
	// ClusterPropagationPolicy.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// name of the one template to select.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`

	// labelSelector selects templates by their labels.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// Placement says which clusters get the templates.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.clusterAffinity) && has(self.clusterAffinities))",message="clusterAffinity and clusterAffinities are exclusive: use clusterAffinities for ordered fallback groups"
// +kubebuilder:validation:XValidation:rule="!(has(self.primaryBackup) && has(self.clusterAffinities))",message="primaryBackup and clusterAffinities are exclusive: primaryBackup is an ordered list of single clusters"
// +kubebuilder:validation:XValidation:rule="!(has(self.primaryBackup) && has(self.spreadConstraints))",message="primaryBackup runs the workload in one cluster: spreadConstraints do not apply"
type Placement struct {
	// clusterAffinity restricts the clusters that may be chosen.
	// +optional
	ClusterAffinity *ClusterAffinity `json:"clusterAffinity,omitempty"`

	// clusterAffinities are ordered groups of clusters: the scheduler uses
	// the first group that can take the workload, and falls back to the next.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	ClusterAffinities []ClusterAffinityTerm `json:"clusterAffinities,omitempty"`

	// primaryBackup runs the workload in one cluster at a time: the first
	// of these clusters that is eligible. When it fails the workload moves
	// to the next; it moves back as failover.failback says.
	// +optional
	PrimaryBackup *PrimaryBackup `json:"primaryBackup,omitempty"`

	// clusterTolerations let the templates go to clusters with matching
	// taints.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ClusterTolerations []corev1.Toleration `json:"clusterTolerations,omitempty"`

	// spreadConstraints spread the templates over groups of clusters: by
	// cluster, region, zone or provider, or by a cluster label.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	SpreadConstraints []SpreadConstraint `json:"spreadConstraints,omitempty"`

	// replicaScheduling says whether each cluster runs all replicas
	// (Duplicated) or a share of them (Divided).
	// +optional
	ReplicaScheduling *ReplicaSchedulingStrategy `json:"replicaScheduling,omitempty"`
}

// ClusterAffinity selects clusters. A cluster must satisfy every field that
// is set; exclude always wins.
type ClusterAffinity struct {
	// labelSelector selects clusters by their labels.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// fieldSelector selects clusters by spec.provider, spec.region and
	// spec.zone.
	// +optional
	FieldSelector *FieldSelector `json:"fieldSelector,omitempty"`

	// clusterNames lists the clusters that may be chosen.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=set
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`

	// exclude lists clusters that are never chosen.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=set
	// +optional
	Exclude []string `json:"exclude,omitempty"`
}

// ClusterAffinityTerm is one named group of clusterAffinities.
type ClusterAffinityTerm struct {
	// affinityName names the group, for status and events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +required
	AffinityName string `json:"affinityName"`

	ClusterAffinity `json:",inline"`
}

// FieldSelector selects clusters by their provider, region and zone.
type FieldSelector struct {
	// matchExpressions must all hold. Keys are provider, region and zone.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	MatchExpressions []FieldSelectorRequirement `json:"matchExpressions,omitempty"`
}

// FieldSelectorRequirement is one condition on a cluster field.
//
// +kubebuilder:validation:XValidation:rule="(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",message="In and NotIn need values; Exists and DoesNotExist take none"
type FieldSelectorRequirement struct {
	// key is the field: provider, region or zone.
	// +kubebuilder:validation:Enum=provider;region;zone
	// +required
	Key string `json:"key"`

	// operator is In, NotIn, Exists or DoesNotExist.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	// +required
	Operator corev1.NodeSelectorOperator `json:"operator"`

	// values for In and NotIn.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	Values []string `json:"values,omitempty"`
}

// SpreadField is a cluster field to spread over.
// +kubebuilder:validation:Enum=cluster;region;zone;provider
type SpreadField string

// Fields to spread over.
const (
	SpreadByFieldCluster  SpreadField = "cluster"
	SpreadByFieldRegion   SpreadField = "region"
	SpreadByFieldZone     SpreadField = "zone"
	SpreadByFieldProvider SpreadField = "provider"
)

// SpreadConstraint spreads templates over groups of clusters.
//
// +kubebuilder:validation:XValidation:rule="has(self.spreadByField) != has(self.spreadByLabel)",message="set exactly one of spreadByField and spreadByLabel"
// +kubebuilder:validation:XValidation:rule="!has(self.maxGroups) || !has(self.minGroups) || self.minGroups <= self.maxGroups",message="minGroups must not exceed maxGroups"
type SpreadConstraint struct {
	// spreadByField groups clusters by cluster, region, zone or provider.
	// +optional
	SpreadByField SpreadField `json:"spreadByField,omitempty"`

	// spreadByLabel groups clusters by the value of this label.
	// +kubebuilder:validation:MaxLength=317
	// +optional
	SpreadByLabel string `json:"spreadByLabel,omitempty"`

	// maxGroups is the most groups to choose.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxGroups int32 `json:"maxGroups,omitempty"`

	// minGroups is the fewest groups to choose; scheduling fails if fewer
	// can be.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinGroups int32 `json:"minGroups,omitempty"`
}

// ReplicaSchedulingType says how replicas map to clusters.
// +kubebuilder:validation:Enum=Duplicated;Divided
type ReplicaSchedulingType string

// ReplicaDivisionPreference says how Divided replicas are shared.
// +kubebuilder:validation:Enum=Aggregated;Weighted
type ReplicaDivisionPreference string

// DynamicWeightFactor is where dynamic weights come from.
// +kubebuilder:validation:Enum=AvailableReplicas
type DynamicWeightFactor string

// Replica scheduling values.
const (
	// Duplicated runs all replicas in every chosen cluster.
	ReplicaSchedulingTypeDuplicated ReplicaSchedulingType = "Duplicated"
	// Divided shares the replicas among the chosen clusters.
	ReplicaSchedulingTypeDivided ReplicaSchedulingType = "Divided"
	// Aggregated packs replicas into as few clusters as capacity allows.
	ReplicaDivisionPreferenceAggregated ReplicaDivisionPreference = "Aggregated"
	// Weighted shares replicas by weight.
	ReplicaDivisionPreferenceWeighted ReplicaDivisionPreference = "Weighted"
	// DynamicWeightByAvailableReplicas weighs each cluster by how many
	// replicas of the pod template its free capacity can take.
	DynamicWeightByAvailableReplicas DynamicWeightFactor = "AvailableReplicas"
)

// ReplicaSchedulingStrategy says how replicas are placed.
//
// +kubebuilder:validation:XValidation:rule="!has(self.replicaDivisionPreference) || self.replicaSchedulingType == 'Divided'",message="replicaDivisionPreference applies only to replicaSchedulingType Divided"
// +kubebuilder:validation:XValidation:rule="!has(self.replicaDivisionPreference) || self.replicaDivisionPreference != 'Weighted' || has(self.weightPreference)",message="replicaDivisionPreference Weighted needs weightPreference (staticWeightList or dynamicWeight)"
type ReplicaSchedulingStrategy struct {
	// replicaSchedulingType is Duplicated or Divided (the default).
	// +kubebuilder:default=Divided
	// +optional
	ReplicaSchedulingType ReplicaSchedulingType `json:"replicaSchedulingType,omitempty"`

	// replicaDivisionPreference is Aggregated or Weighted, for Divided.
	// +optional
	ReplicaDivisionPreference ReplicaDivisionPreference `json:"replicaDivisionPreference,omitempty"`

	// weightPreference gives the weights for Weighted division.
	// +optional
	WeightPreference *ClusterPreferences `json:"weightPreference,omitempty"`
}

// ClusterPreferences give clusters weights: static, or dynamic from their
// capacity.
//
// +kubebuilder:validation:XValidation:rule="has(self.staticWeightList) != has(self.dynamicWeight)",message="set exactly one of staticWeightList and dynamicWeight"
type ClusterPreferences struct {
	// staticWeightList gives fixed weights to groups of clusters. A cluster
	// in no entry gets no replicas.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	StaticWeightList []StaticClusterWeight `json:"staticWeightList,omitempty"`

	// dynamicWeight weighs clusters by a live factor: AvailableReplicas.
	// +optional
	DynamicWeight DynamicWeightFactor `json:"dynamicWeight,omitempty"`
}

// StaticClusterWeight gives a weight to the clusters that targetCluster
// selects.
type StaticClusterWeight struct {
	// targetCluster selects the clusters this weight applies to.
	// +required
	TargetCluster ClusterAffinity `json:"targetCluster"`

	// weight is a positive integer.
	// +kubebuilder:validation:Minimum=1
	// +required
	Weight int64 `json:"weight"`
}

// PreemptionBehavior says whether a policy takes templates from
// lower-priority policies.
// +kubebuilder:validation:Enum=Always;Never
type PreemptionBehavior string

// Preemption values.
const (
	PreemptAlways PreemptionBehavior = "Always"
	PreemptNever  PreemptionBehavior = "Never"
)

// ConflictResolution says what to do with an existing object in a member.
// +kubebuilder:validation:Enum=Abort;Overwrite
type ConflictResolution string

// Conflict resolutions.
const (
	ConflictAbort     ConflictResolution = "Abort"
	ConflictOverwrite ConflictResolution = "Overwrite"
)

// Suspension pauses propagation.
type Suspension struct {
	// dispatching, when true, stops changes from reaching any cluster.
	// +optional
	Dispatching *bool `json:"dispatching,omitempty"`

	// dispatchingOnClusters stops changes from reaching these clusters.
	// +optional
	DispatchingOnClusters *SuspendClusters `json:"dispatchingOnClusters,omitempty"`
}

// SuspendClusters names clusters.
type SuspendClusters struct {
	// clusterNames lists the clusters.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=set
	// +optional
	ClusterNames []string `json:"clusterNames,omitempty"`
}

// PrimaryBackup is an ordered preference of clusters.
type PrimaryBackup struct {
	// clusters in order of preference: the primary first, then the backups.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.all(x, self.exists_one(y, y == x))",message="clusters must not repeat"
	// +listType=atomic
	// +required
	Clusters []string `json:"clusters"`
}

// FailoverBehavior says when workloads leave failing clusters and whether
// they come back.
type FailoverBehavior struct {
	// cluster is the failover of clusters that stay not Ready. It is always
	// on; the hub's --cluster-failover-toleration is the default toleration.
	// +optional
	Cluster *ClusterFailover `json:"cluster,omitempty"`

	// application, when set, moves a workload that stays unhealthy in a
	// cluster to another cluster. Off by default.
	// +optional
	Application *ApplicationFailover `json:"application,omitempty"`

	// gracePeriodSeconds is how long the replicas in a cluster being left
	// keep running while the replicas replacing them become healthy. They
	// are removed as soon as those are healthy, or when this runs out.
	// Default 600.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	GracePeriodSeconds *int32 `json:"gracePeriodSeconds,omitempty"`

	// failback says whether replicas move back to the placement's desired
	// distribution once the clusters they left are healthy again.
	// +optional
	Failback *Failback `json:"failback,omitempty"`
}

// ClusterFailover tunes cluster failover.
type ClusterFailover struct {
	// tolerationSeconds is how long a cluster may stay not Ready before
	// the replicas it runs move to other clusters. Default: the hub's
	// --cluster-failover-toleration (60 s unless set).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=604800
	// +optional
	TolerationSeconds *int32 `json:"tolerationSeconds,omitempty"`

	// offline overrides, for this policy's templates, what an Offline Pull
	// cluster does with them: StayPut or FailOver (see the Cluster's
	// spec.offline, whose default is StayPut).
	// +kubebuilder:validation:Enum=StayPut;FailOver
	// +optional
	Offline string `json:"offline,omitempty"`
}

// ApplicationFailover tunes application failover.
type ApplicationFailover struct {
	// tolerationSeconds is how long the workload may stay unhealthy in a
	// cluster before it moves elsewhere.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	// +required
	TolerationSeconds int32 `json:"tolerationSeconds"`
}

// FailbackMode says when replicas move back after a failover.
// +kubebuilder:validation:Enum=Manual;Automatic
type FailbackMode string

// Failback modes.
const (
	// FailbackManual moves replicas back only on request: flotilla rebalance.
	FailbackManual FailbackMode = "Manual"
	// FailbackAutomatic moves them back once the clusters have been Ready
	// for stableSeconds.
	FailbackAutomatic FailbackMode = "Automatic"
)

// Failback says whether and when replicas move back.
type Failback struct {
	// mode is Manual (the default) or Automatic.
	// +kubebuilder:default=Manual
	// +optional
	Mode FailbackMode `json:"mode,omitempty"`

	// stableSeconds is how long a cluster must have been Ready before
	// Automatic failback moves replicas to it. Default 300.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=604800
	// +optional
	StableSeconds *int32 `json:"stableSeconds,omitempty"`
}
