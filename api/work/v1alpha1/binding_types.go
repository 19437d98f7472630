package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// ResourceBinding binds one namespaced template to the clusters that run
// it. Flotilla creates and owns it; users read it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rb,categories=flotilla
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.resource.kind`
// +kubebuilder:printcolumn:name="Template",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Scheduled",type=string,JSONPath=`.status.conditions[?(@.type=="Scheduled")].status`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.conditions[?(@.type=="Applied")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ResourceBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec BindingSpec `json:"spec"`
	// +optional
	Status BindingStatus `json:"status,omitempty"`
}

// ResourceBindingList is a list of ResourceBindings.
//
// +kubebuilder:object:root=true
type ResourceBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ResourceBinding `json:"items"`
}

// ClusterResourceBinding binds one cluster-scoped template to the clusters
// that run it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=crb,categories=flotilla
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.resource.kind`
// +kubebuilder:printcolumn:name="Template",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Scheduled",type=string,JSONPath=`.status.conditions[?(@.type=="Scheduled")].status`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.conditions[?(@.type=="Applied")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterResourceBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec BindingSpec `json:"spec"`
	// +optional
	Status BindingStatus `json:"status,omitempty"`
}

// ClusterResourceBindingList is a list of ClusterResourceBindings.
//
// +kubebuilder:object:root=true
type ClusterResourceBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterResourceBinding `json:"items"`
}

// BindingSpec is what the detector and the scheduler decided for one
// template.
type BindingSpec struct {
	// resource is the template on the hub.
	// +required
	Resource ObjectReference `json:"resource"`

	// replicas is the template's replica count; 0 for kinds without one.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// replicaRequirements are the resources one replica requests, from the
	// template's pod template.
	// +optional
	ReplicaRequirements corev1.ResourceList `json:"replicaRequirements,omitempty"`

	// policy is the policy that claimed the template.
	// +required
	Policy PolicyReference `json:"policy"`

	// placement is the policy's placement, copied when the template was
	// claimed or the policy changed.
	// +optional
	Placement policyv1alpha1.Placement `json:"placement,omitempty"`

	// conflictResolution is the policy's conflictResolution.
	// +optional
	ConflictResolution policyv1alpha1.ConflictResolution `json:"conflictResolution,omitempty"`

	// preserveResourcesOnDeletion is the policy's.
	// +optional
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion,omitempty"`

	// suspension is the policy's.
	// +optional
	Suspension *policyv1alpha1.Suspension `json:"suspension,omitempty"`

	// dependencies are the objects of the template's namespace that follow
	// it to its clusters, when the policy sets propagateDeps.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Dependencies []ObjectReference `json:"dependencies,omitempty"`

	// failover is the policy's failover behaviour.
	// +optional
	Failover *policyv1alpha1.FailoverBehavior `json:"failover,omitempty"`

	// rescheduleTriggeredAt asks the scheduler to decide afresh, moving
	// replicas back to the placement's desired distribution: flotilla
	// rebalance sets it.
	// +optional
	RescheduleTriggeredAt *metav1.Time `json:"rescheduleTriggeredAt,omitempty"`

	// evictions are clusters the scheduler moved the template away from
	// because they failed or were drained. Their objects stay until the
	// replicas that replace them are healthy, or the grace period ends;
	// the cluster is not chosen again for the template while it is listed.
	// +listType=map
	// +listMapKey=cluster
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Evictions []Eviction `json:"evictions,omitempty"`

	// clusters is the scheduler's decision: the clusters that run the
	// template and their replicas.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Clusters []TargetCluster `json:"clusters,omitempty"`
}

// ObjectReference names an object on the hub.
type ObjectReference struct {
	// +required
	APIVersion string `json:"apiVersion"`
	// +required
	Kind string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +required
	Name string `json:"name"`
	// +optional
	UID string `json:"uid,omitempty"`
}

// PolicyReference names a PropagationPolicy or ClusterPropagationPolicy.
type PolicyReference struct {
	// kind is PropagationPolicy or ClusterPropagationPolicy.
	// +kubebuilder:validation:Enum=PropagationPolicy;ClusterPropagationPolicy
	// +required
	Kind string `json:"kind"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +required
	Name string `json:"name"`
}

// AppliedOverride is one override policy's effect on a cluster's object.
type AppliedOverride struct {
	// policy is Kind/name or Kind/namespace/name.
	// +kubebuilder:validation:MaxLength=400
	// +required
	Policy string `json:"policy"`
	// changes say what the policy changed, one line per field, for example
	// "spec.template.spec.containers[web].image: nginx:1.25 -> nginx:1.26".
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=1024
	// +optional
	Changes []string `json:"changes,omitempty"`
}

// Eviction reasons.
const (
	// EvictionClusterFailure: the cluster stayed not Ready past the
	// toleration.
	EvictionClusterFailure = "ClusterFailure"
	// EvictionApplicationFailure: the workload stayed unhealthy there.
	EvictionApplicationFailure = "ApplicationFailure"
	// EvictionTaint: a NoExecute taint the policy does not tolerate, as
	// flotilla cordon --drain sets.
	EvictionTaint = "Taint"
)

// Eviction is a cluster a template is moving away from.
type Eviction struct {
	// cluster left.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Cluster string `json:"cluster"`
	// replicas it ran when it was left.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// reason is ClusterFailure, ApplicationFailure or Taint.
	// +kubebuilder:validation:MaxLength=64
	// +required
	Reason string `json:"reason"`
	// message says why, for a user.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// creationTimestamp is when the scheduler moved the template away.
	// +required
	CreationTimestamp metav1.Time `json:"creationTimestamp"`
	// deadline is when the objects left behind are removed even if the
	// replacements are not healthy.
	// +required
	Deadline metav1.Time `json:"deadline"`
}

// TargetCluster is one cluster of a scheduling decision.
type TargetCluster struct {
	// name of the cluster.
	// +required
	Name string `json:"name"`
	// replicas the cluster runs; for kinds without replicas, 0.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
}

// BindingStatus reports scheduling and each cluster's result.
type BindingStatus struct {
	// conditions: Scheduled, Applied and Healthy.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// schedulerObservedGeneration is the generation the scheduler last
	// acted on.
	// +optional
	SchedulerObservedGeneration int64 `json:"schedulerObservedGeneration,omitempty"`

	// schedulingInputs fingerprints the eligible clusters the last decision
	// saw. The scheduler decides again only when it changes, so that
	// unrelated cluster events never reshuffle replicas.
	// +optional
	SchedulingInputs string `json:"schedulingInputs,omitempty"`

	// schedulerObservedSpec fingerprints the spec the last decision was made
	// on, without the scheduler's own fields (clusters, evictions): when it
	// is unchanged, only the clusters changed, and a placement that still
	// works is kept.
	// +optional
	SchedulerObservedSpec string `json:"schedulerObservedSpec,omitempty"`

	// schedulerObservedAffinityName is the clusterAffinities group the last
	// decision used.
	// +optional
	SchedulerObservedAffinityName string `json:"schedulerObservedAffinityName,omitempty"`

	// decisions give, for every cluster, why it was chosen or not.
	// +listType=map
	// +listMapKey=cluster
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Decisions []ClusterDecision `json:"decisions,omitempty"`

	// clusters report what each member runs.
	// +listType=map
	// +listMapKey=cluster
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	Clusters []ClusterStatus `json:"clusters,omitempty"`
}

// ClusterDecision is the scheduler's verdict on one cluster.
type ClusterDecision struct {
	// +required
	Cluster string `json:"cluster"`
	// chosen is true when the cluster got the template.
	// +required
	Chosen bool `json:"chosen"`
	// replicas assigned.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// reason, for a user to read.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// Health values.
const (
	HealthHealthy   = "Healthy"
	HealthUnhealthy = "Unhealthy"
	HealthUnknown   = "Unknown"
	// HealthProgressing: a rollout is under way (the member has not
	// observed the latest spec, or not every replica is updated yet), and
	// has not exceeded its progress deadline. Application failover does
	// not count it as a failure.
	HealthProgressing = "Progressing"
)

// ClusterStatus is one member's result.
type ClusterStatus struct {
	// +required
	Cluster string `json:"cluster"`
	// applied is true when the member holds the current manifest.
	// +required
	Applied bool `json:"applied"`
	// reason is a machine-readable word for the apply result, such as
	// Applied, Conflict, ApplyFailed or ClusterNotReady.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is the apply result, with the member's exact error on failure.
	// +optional
	Message string `json:"message,omitempty"`
	// health is Healthy, Progressing (a rollout under way), Unhealthy or
	// Unknown, by the kind's health rule.
	// +optional
	Health string `json:"health,omitempty"`
	// generation of the object in the member.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// observedGeneration the member's controller reports.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// status is the object's status in the member, trimmed to the fields
	// the hub aggregates.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +optional
	Status *runtime.RawExtension `json:"status,omitempty"`
	// overrides are the override policies applied to the object sent to
	// this cluster, in the order applied, with what each changed.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Overrides []AppliedOverride `json:"overrides,omitempty"`
	// healthTransitionTime is when health last changed.
	// +optional
	HealthTransitionTime *metav1.Time `json:"healthTransitionTime,omitempty"`
	// dependencies applied with the template in this cluster, as Kind/name.
	// +listType=set
	// +optional
	Dependencies []string `json:"dependencies,omitempty"`
}

// Condition types and reasons of a binding.
const (
	ConditionScheduled = "Scheduled"
	ConditionApplied   = "Applied"
	ConditionHealthy   = "Healthy"

	ReasonScheduled     = "Scheduled"
	ReasonNoClusterFits = "NoClusterFits"
	// ReasonFailoverBlocked: replicas should leave a failed cluster but no
	// other cluster can take them; nothing is deleted.
	ReasonFailoverBlocked = "FailoverBlocked"
	ReasonSchedulerError  = "SchedulerError"
	ReasonApplied         = "Applied"
	ReasonPartial         = "PartiallyApplied"
	ReasonConflict        = "Conflict"
	ReasonApplyFailed     = "ApplyFailed"
	// ReasonOverrideFailed: an override policy could not apply to the
	// object for this cluster; the member keeps the last good object.
	ReasonOverrideFailed  = "OverrideFailed"
	ReasonClusterNotReady = "ClusterNotReady"
	ReasonSuspended       = "Suspended"
	ReasonPending         = "Pending"
)

// Labels and annotations on templates and member objects.
const (
	// AnnotationPolicy on a template names the policy that claimed it, as
	// PropagationPolicy/NAMESPACE/NAME or ClusterPropagationPolicy/NAME.
	AnnotationPolicy = "policy.flotilla.io/claimed-by"
	// LabelBindingUID on a member object is the UID of the binding that
	// put it there.
	LabelBindingUID = "work.flotilla.io/binding-uid"
	// AnnotationBinding on a member object names its binding, as
	// NAMESPACE/NAME or NAME.
	AnnotationBinding = "work.flotilla.io/binding"
	// AnnotationManifestHash on a member object is the hash of the manifest
	// last applied, so that unchanged objects are never applied again.
	AnnotationManifestHash = "work.flotilla.io/manifest-hash"
	// LabelDependency marks a member object propagated as a dependency.
	LabelDependency = "work.flotilla.io/dependency"
	// FinalizerCleanup holds a binding until its objects are removed from
	// the members.
	FinalizerCleanup = "work.flotilla.io/cleanup"
)
