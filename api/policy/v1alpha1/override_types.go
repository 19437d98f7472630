package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion,
			&OverridePolicy{}, &OverridePolicyList{},
			&ClusterOverridePolicy{}, &ClusterOverridePolicyList{})
		return nil
	})
}

// OverridePolicy changes templates of its own namespace on their way to
// member clusters: a different image registry, extra arguments, a label, or
// any field through a JSON patch. It applies after the ClusterOverridePolicies
// that match the same template, so it has the last word.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=op,categories=flotilla
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OverridePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which templates to change, in which clusters, and how.
	// +required
	Spec OverrideSpec `json:"spec"`
}

// OverridePolicyList is a list of OverridePolicies.
//
// +kubebuilder:object:root=true
type OverridePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OverridePolicy `json:"items"`
}

// ClusterOverridePolicy changes cluster-scoped templates, and namespaced
// templates of any namespace, on their way to member clusters. It applies
// before the OverridePolicies that match the same template.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cop,categories=flotilla
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterOverridePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says which templates to change, in which clusters, and how.
	// +required
	Spec OverrideSpec `json:"spec"`
}

// ClusterOverridePolicyList is a list of ClusterOverridePolicies.
//
// +kubebuilder:object:root=true
type ClusterOverridePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterOverridePolicy `json:"items"`
}

// OverrideSpec is what an override policy says.
type OverrideSpec struct {
	// resourceSelectors choose the templates this policy changes. A
	// template matches when any selector matches it. An OverridePolicy only
	// ever changes templates of its own namespace.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +required
	ResourceSelectors []ResourceSelector `json:"resourceSelectors"`

	// overrideRules are applied in order, each to the clusters its
	// targetCluster selects.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +required
	OverrideRules []RuleWithCluster `json:"overrideRules"`
}

// RuleWithCluster is a set of overriders for some clusters.
type RuleWithCluster struct {
	// targetCluster selects the clusters this rule applies to. Without it
	// the rule applies to every cluster.
	// +optional
	TargetCluster *ClusterAffinity `json:"targetCluster,omitempty"`

	// overriders are the changes to make, applied in this order:
	// imageOverrider, commandOverrider, argsOverrider, labelsOverrider,
	// annotationsOverrider, plaintext.
	// +required
	Overriders Overriders `json:"overriders"`
}

// Overriders are the changes one rule makes.
//
// +kubebuilder:validation:XValidation:rule="[has(self.imageOverrider) && size(self.imageOverrider) > 0, has(self.commandOverrider) && size(self.commandOverrider) > 0, has(self.argsOverrider) && size(self.argsOverrider) > 0, has(self.labelsOverrider) && size(self.labelsOverrider) > 0, has(self.annotationsOverrider) && size(self.annotationsOverrider) > 0, has(self.plaintext) && size(self.plaintext) > 0].exists(x, x)",message="set at least one overrider: imageOverrider, commandOverrider, argsOverrider, labelsOverrider, annotationsOverrider or plaintext"
type Overriders struct {
	// imageOverrider changes the registry, repository or tag of container
	// images.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ImageOverrider []ImageOverrider `json:"imageOverrider,omitempty"`

	// commandOverrider changes the command of a container.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	CommandOverrider []CommandArgsOverrider `json:"commandOverrider,omitempty"`

	// argsOverrider changes the args of a container.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ArgsOverrider []CommandArgsOverrider `json:"argsOverrider,omitempty"`

	// labelsOverrider changes the labels of the object itself (not of its
	// pod template).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	LabelsOverrider []LabelAnnotationOverrider `json:"labelsOverrider,omitempty"`

	// annotationsOverrider changes the annotations of the object itself
	// (not of its pod template).
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	AnnotationsOverrider []LabelAnnotationOverrider `json:"annotationsOverrider,omitempty"`

	// plaintext changes any field with a JSON patch operation (RFC 6902).
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Plaintext []PlaintextOverrider `json:"plaintext,omitempty"`
}

// OverriderOperator is what an overrider does: add, remove or replace.
// +kubebuilder:validation:Enum=add;remove;replace
type OverriderOperator string

// Overrider operators.
const (
	OverriderOpAdd     OverriderOperator = "add"
	OverriderOpRemove  OverriderOperator = "remove"
	OverriderOpReplace OverriderOperator = "replace"
)

// ImageComponent is a part of an image reference
// [registry/]repository[:tag|@digest].
// +kubebuilder:validation:Enum=Registry;Repository;Tag
type ImageComponent string

// Image components.
const (
	// ImageComponentRegistry is the host, and optional port, before the
	// first slash: registry.k8s.io, fictional.registry.example:10443.
	ImageComponentRegistry ImageComponent = "Registry"
	// ImageComponentRepository is the path after the registry, without tag
	// or digest: nginx, library/nginx.
	ImageComponentRepository ImageComponent = "Repository"
	// ImageComponentTag is the tag (1.25) or, for an image pinned by
	// digest, the digest (sha256:…).
	ImageComponentTag ImageComponent = "Tag"
)

// ImageOverrider changes one component of container images.
//
// +kubebuilder:validation:XValidation:rule="self.operator == 'remove' || (has(self.value) && size(self.value) > 0)",message="add and replace need a value"
type ImageOverrider struct {
	// predicate chooses one image by its path. Without it the overrider
	// changes every image of the containers and initContainers of the pod
	// template of a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
	// or CronJob, and nothing in other kinds.
	// +optional
	Predicate *ImagePredicate `json:"predicate,omitempty"`

	// component is the part of the image to change: Registry, Repository
	// or Tag (a tag or a digest).
	// +required
	Component ImageComponent `json:"component"`

	// operator is add (append value to the component), remove (drop the
	// component) or replace (set the component to value).
	// +required
	Operator OverriderOperator `json:"operator"`

	// value to append or to set. Ignored by remove.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Value string `json:"value,omitempty"`
}

// ImagePredicate chooses one image.
type ImagePredicate struct {
	// path is a JSON pointer to an image string, for example
	// /spec/template/spec/containers/0/image.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="path is a JSON pointer: it must start with /, for example /spec/template/spec/containers/0/image"
	// +required
	Path string `json:"path"`
}

// CommandArgsOverrider changes the command or the args of one container.
type CommandArgsOverrider struct {
	// containerName is the name of the container, or init container, to
	// change.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	ContainerName string `json:"containerName"`

	// operator is add (append value), remove (drop every item equal to one
	// in value) or replace (set the whole list to value; an empty value
	// removes the list, so that the image's default applies).
	// +required
	Operator OverriderOperator `json:"operator"`

	// value are the items to append, drop or set.
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Value []string `json:"value,omitempty"`
}

// LabelAnnotationOverrider changes labels or annotations of the object.
type LabelAnnotationOverrider struct {
	// operator is add (set each key to its value, whether it exists or
	// not), remove (delete each key; the values are ignored) or replace
	// (set each key that exists to its value; keys that do not exist are
	// left out).
	// +required
	Operator OverriderOperator `json:"operator"`

	// value maps keys to values.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=64
	// +required
	Value map[string]string `json:"value"`
}

// PlaintextOverrider is one JSON patch operation (RFC 6902) on the object.
type PlaintextOverrider struct {
	// path is a JSON pointer (RFC 6901) to the field, for example
	// /spec/replicas. For add, the parent must exist; for remove and
	// replace, the field itself.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="path is a JSON pointer: it must start with /, for example /spec/replicas"
	// +kubebuilder:validation:XValidation:rule="!(self in ['/apiVersion', '/kind', '/metadata', '/metadata/name', '/metadata/namespace'])",message="an override must not change the object's apiVersion, kind, name or namespace"
	// +required
	Path string `json:"path"`

	// operator is add (set a field, or insert into a list), remove (delete
	// the field) or replace (change a field that exists).
	// +required
	Operator OverriderOperator `json:"operator"`

	// value for add and replace: any JSON value. add and replace without a
	// value fail when the policy is applied, and remove ignores it: the
	// API server's CRD rules cannot see a field that may hold any JSON.
	// +optional
	Value *apiextensionsv1.JSON `json:"value,omitempty"`
}
