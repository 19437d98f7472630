package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// Work is what one Pull-mode cluster must run for one binding: the
// manifests the hub rendered for that cluster, ready to apply. The hub
// writes it in the cluster's namespace on the hub
// (ClusterNamespace(cluster)); the cluster's agent watches that namespace,
// applies the manifests to its cluster and writes the status.
//
// Push clusters have no Work: the hub renders their manifests in memory
// when it applies them (docs/propagation.md).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wk,categories=flotilla
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.metadata.namespace`,priority=1
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.conditions[?(@.type=="Applied")].status`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Work struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec WorkSpec `json:"spec"`
	// +optional
	Status WorkStatus `json:"status,omitempty"`
}

// WorkList is a list of Works.
//
// +kubebuilder:object:root=true
type WorkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Work `json:"items"`
}

// MaxWorkManifests is the most manifests one Work holds.
const MaxWorkManifests = 64

// WorkSpec is what the cluster must run.
type WorkSpec struct {
	// binding is the ResourceBinding or ClusterResourceBinding the
	// manifests come from.
	// +required
	Binding ObjectReference `json:"binding"`

	// manifests are the objects to apply, fully rendered for this cluster:
	// they already carry Flotilla's labels (app.kubernetes.io/managed-by,
	// work.flotilla.io/binding-uid or work.flotilla.io/dependency) and the
	// work.flotilla.io/manifest-hash annotation. The agent applies them in
	// order, after any Namespace and CustomResourceDefinition among them.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:XEmbeddedResource
	// +optional
	Manifests []runtime.RawExtension `json:"manifests,omitempty"`

	// conflictResolution says what to do with an object of the same name
	// that this Work's binding did not create: Abort (the default) leaves
	// it alone and reports Conflict; Overwrite takes it over.
	// +kubebuilder:validation:Enum=Abort;Overwrite
	// +optional
	ConflictResolution policyv1alpha1.ConflictResolution `json:"conflictResolution,omitempty"`

	// preserveResourcesOnDeletion leaves the objects running in the
	// cluster when the Work is deleted, or when a manifest leaves it.
	// +optional
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion,omitempty"`

	// suspendDispatching stops changes from reaching the cluster: the agent
	// neither applies nor corrects drift, and a Work deleted while
	// suspended leaves its objects. What runs there keeps running.
	// +optional
	SuspendDispatching bool `json:"suspendDispatching,omitempty"`
}

// WorkStatus is what the agent found in its cluster.
type WorkStatus struct {
	// conditions: Applied and Available.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the Work generation the agent last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// manifests report each manifest's result, in the order of
	// spec.manifests.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Manifests []ManifestStatus `json:"manifests,omitempty"`

	// lastSyncTime is when the agent wrote this status.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// ManifestStatus is one manifest's result in the cluster.
type ManifestStatus struct {
	// apiVersion of the object.
	// +required
	APIVersion string `json:"apiVersion"`
	// kind of the object.
	// +required
	Kind string `json:"kind"`
	// namespace of the object; empty when cluster-scoped.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	// +required
	Name string `json:"name"`
	// applied is true when the cluster holds the current manifest.
	// +required
	Applied bool `json:"applied"`
	// reason is a machine-readable word for the apply result: Applied,
	// Conflict, ApplyFailed, Suspended or Pending.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is the apply result, with the cluster's exact error on
	// failure.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Message string `json:"message,omitempty"`
	// health is Healthy, Progressing, Unhealthy or Unknown, by the kind's
	// health rule (docs/propagation.md).
	// +kubebuilder:validation:Enum=Healthy;Progressing;Unhealthy;Unknown
	// +optional
	Health string `json:"health,omitempty"`
	// generation of the object in the cluster.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// observedGeneration the cluster's controller reports for the object.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// status is the object's status, trimmed to the numeric workload
	// fields the hub aggregates (replicas, readyReplicas and the like).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +optional
	Status *runtime.RawExtension `json:"status,omitempty"`
}

// Condition types of a Work.
const (
	// WorkConditionApplied is True when every manifest is applied to the
	// cluster as it stands in the Work's current generation; False with
	// reason Conflict, ApplyFailed, Suspended or Pending otherwise.
	WorkConditionApplied = "Applied"
	// WorkConditionAvailable is True when every manifest's object is
	// Healthy; False (reason Progressing or Unhealthy) when one is not;
	// Unknown while one's health is unknown.
	WorkConditionAvailable = "Available"
)

// Reasons of a Work's conditions and manifests, besides those of a
// binding (ReasonApplied, ReasonConflict, ReasonApplyFailed,
// ReasonSuspended, ReasonPending).
const (
	// ReasonProgressing: a rollout is under way in the cluster.
	ReasonProgressing = HealthProgressing
	// ReasonUnhealthy: an object failed its health rule.
	ReasonUnhealthy = HealthUnhealthy
	// ReasonHealthy: every object passed its health rule.
	ReasonHealthy = HealthHealthy
	// ReasonHealthUnknown: an object's health is not known yet.
	ReasonHealthUnknown = HealthUnknown
)

// ClusterNamespacePrefix starts the name of each cluster's namespace on
// the hub, where its Works live.
const ClusterNamespacePrefix = "flotilla-cluster-"

// ClusterNamespace is the hub namespace of a cluster's Works.
func ClusterNamespace(cluster string) string { return ClusterNamespacePrefix + cluster }

// WorkName is the name of a binding's Work in a cluster's namespace:
// NAMESPACE.NAME for a ResourceBinding, NAME-HASH for a
// ClusterResourceBinding (a cluster-scoped name may contain dots, so
// without the hash "a.b-configmap" could be either). A name longer than an
// object name may be is cut and ends with a hash of the whole.
func WorkName(bindingNamespace, bindingName string) string {
	n := bindingNamespace + "." + bindingName
	if bindingNamespace == "" {
		n = bindingName + "-" + shortHash("ClusterResourceBinding/"+bindingName)
	}
	if len(n) > maxNameLength {
		n = strings.TrimRight(n[:maxNameLength-9], ".-") + "-" + shortHash(n)
	}
	return n
}

// maxNameLength is the longest object name (a DNS subdomain).
const maxNameLength = 253

// shortHash is 8 hex digits of the SHA-256 of s.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &Work{}, &WorkList{})
		return nil
	})
}
