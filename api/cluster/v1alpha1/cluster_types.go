package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OfflineAction is what happens to the replicas of an Offline Pull cluster.
// +kubebuilder:validation:Enum=StayPut;FailOver
type OfflineAction string

// Offline actions.
const (
	// OfflineStayPut keeps the replicas where they are.
	OfflineStayPut OfflineAction = "StayPut"
	// OfflineFailOver moves them after the failover toleration.
	OfflineFailOver OfflineAction = "FailOver"
)

// SyncMode says who applies the fleet's work to a member cluster.
// +kubebuilder:validation:Enum=Push;Pull
type SyncMode string

const (
	// Push means the hub reaches the member's API server and applies work itself.
	Push SyncMode = "Push"
	// Pull means an agent beside the member pulls its work from the hub.
	Pull SyncMode = "Pull"
)

// Cluster is one member cluster of the fleet. It is cluster-scoped: its name
// is the cluster's name throughout Flotilla.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=fc;mcl,categories=flotilla
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.syncMode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.kubernetesVersion`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodeSummary.total`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`,priority=1
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.spec.zone`,priority=1
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.apiEndpoint`,priority=1
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 48 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a cluster name must be a DNS-1123 label of at most 48 characters: lower-case letters, digits and -"
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says how the hub reaches the cluster and how it may be used.
	// +required
	Spec ClusterSpec `json:"spec"`

	// status is what the hub last observed of the cluster.
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterSpec says how the hub reaches a member cluster and how the
// scheduler may use it.
//
// +kubebuilder:validation:XValidation:rule="self.syncMode != 'Push' || (has(self.apiEndpoint) && has(self.secretRef))",message="a Push cluster needs apiEndpoint and secretRef: the hub must be able to reach it"
type ClusterSpec struct {
	// syncMode says who applies work to the cluster: Push (the hub) or Pull
	// (an agent in the cluster). It cannot change after the cluster joined.
	// +kubebuilder:default=Push
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="syncMode is immutable; unjoin and join the cluster again to change it"
	// +optional
	SyncMode SyncMode `json:"syncMode,omitempty"`

	// offline says what happens to what a Pull cluster runs while its agent
	// is Offline (stopped heartbeating): StayPut, the default, keeps the
	// replicas placed there (an edge site keeps running on its own), or
	// FailOver moves them after the failover toleration, as for a Push
	// cluster that is not Ready. A policy's failover.cluster.offline
	// overrides it for its templates. Push clusters ignore it.
	// +optional
	Offline OfflineAction `json:"offline,omitempty"`

	// apiEndpoint is the https URL of the cluster's API server, as the hub
	// reaches it.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="apiEndpoint must be an https URL"
	// +optional
	APIEndpoint string `json:"apiEndpoint,omitempty"`

	// secretRef names the Secret on the hub that holds the credentials the
	// hub uses for this cluster: keys "token" and "ca.crt".
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// provider is the cloud or platform the cluster runs on, for example
	// aws, gcp or on-prem. The scheduler can select on it.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Provider string `json:"provider,omitempty"`

	// region is the region the cluster runs in. The scheduler can select
	// and spread on it.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Region string `json:"region,omitempty"`

	// zone is the zone the cluster runs in. The scheduler can select and
	// spread on it.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Zone string `json:"zone,omitempty"`

	// taints keep workloads that do not tolerate them off the cluster.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`
}

// SecretReference names a Secret on the hub.
type SecretReference struct {
	// namespace of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// ClusterStatus is what the hub last observed of a member cluster.
type ClusterStatus struct {
	// conditions are the cluster's Ready, Reachable and Offline conditions.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// kubernetesVersion is the version the cluster's API server reports.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// nodeSummary counts the cluster's nodes.
	// +optional
	NodeSummary *NodeSummary `json:"nodeSummary,omitempty"`

	// resourceSummary sums the cluster's capacity and what pods request.
	// +optional
	ResourceSummary *ResourceSummary `json:"resourceSummary,omitempty"`

	// lastProbeTime is when the hub last probed the cluster, successfully or
	// not.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`

	// probeLatencyMilliseconds is how long the last successful probe took.
	// +optional
	ProbeLatencyMilliseconds *int64 `json:"probeLatencyMilliseconds,omitempty"`

	// consecutiveProbeFailures counts the probes that failed since the last
	// success.
	// +optional
	ConsecutiveProbeFailures int32 `json:"consecutiveProbeFailures,omitempty"`

	// apiEnablements lists the resources the cluster's API server serves,
	// by group and version. The scheduler sends a template only to clusters
	// that serve its kind. Empty until the hub first discovers them.
	// +listType=map
	// +listMapKey=groupVersion
	// +kubebuilder:validation:MaxItems=512
	// +optional
	APIEnablements []APIEnablement `json:"apiEnablements,omitempty"`
}

// APIEnablement is the list of resources one group and version serves.
type APIEnablement struct {
	// groupVersion is the API group and version, for example apps/v1.
	// +required
	GroupVersion string `json:"groupVersion"`
	// kinds are the kinds of the top-level resources served in that
	// group and version.
	// +listType=set
	// +kubebuilder:validation:MaxItems=512
	// +optional
	Kinds []string `json:"kinds,omitempty"`
}

// NodeSummary counts a cluster's nodes.
type NodeSummary struct {
	// total is the number of nodes.
	// +optional
	Total int32 `json:"total"`
	// ready is the number of nodes whose Ready condition is True.
	// +optional
	Ready int32 `json:"ready"`
}

// ResourceSummary sums a cluster's resources over its ready, schedulable
// nodes and its non-terminal pods.
type ResourceSummary struct {
	// allocatable is the sum of the nodes' allocatable resources.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// requested is the sum of the requests of pods bound to those nodes.
	// +optional
	Requested corev1.ResourceList `json:"requested,omitempty"`
	// allocating is the sum of the requests of pods not yet bound to a node.
	// +optional
	Allocating corev1.ResourceList `json:"allocating,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}
