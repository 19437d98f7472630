package promote

import (
	"github.com/flotilla-io/flotilla/internal/workload"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// droppedAnnotations are annotations, or prefixes of annotations (ending in
// "/"), that the member's tools and controllers wrote.
var droppedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	"pv.kubernetes.io/",
	"volume.kubernetes.io/selected-node",
	"volume.kubernetes.io/storage-provisioner",
	"volume.beta.kubernetes.io/storage-provisioner",
	"work.flotilla.io/",
	"policy.flotilla.io/",
}

// Template returns the hub template of a member's object: its apiVersion,
// kind, name, namespace, labels, annotations and every top-level field but
// status, without the metadata the member's API server assigned (uid,
// resourceVersion, managedFields, creationTimestamp, generation,
// ownerReferences, finalizers...) and without the fields the member
// assigned for its own copy (a Service's cluster IPs unless headless and its
// node ports, a Job's generated selector...).
func Template(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range obj.Object {
		if k == "metadata" || k == "status" {
			continue
		}
		out.Object[k] = runtime.DeepCopyJSONValue(v)
	}
	out.SetAPIVersion(obj.GetAPIVersion())
	out.SetKind(obj.GetKind())
	out.SetName(obj.GetName())
	out.SetNamespace(obj.GetNamespace())
	if l := obj.GetLabels(); len(l) > 0 {
		out.SetLabels(l)
	}
	annotations := map[string]string{}
	for k, v := range obj.GetAnnotations() {
		if !dropped(k) {
			annotations[k] = v
		}
	}
	if len(annotations) > 0 {
		out.SetAnnotations(annotations)
	}
	// What the member assigned its own object; the hub, and every other
	// member, assigns its own (the rule execution renders with).
	workload.DropServerAssigned(out)
	return out
}

func dropped(annotation string) bool {
	for _, d := range droppedAnnotations {
		if annotation == d || (strings.HasSuffix(d, "/") && strings.HasPrefix(annotation, d)) {
			return true
		}
	}
	return false
}

// DefaultPolicyName is the policy's name when --policy-name is not set.
func DefaultPolicyName(name string) string { return "promote-" + name }

// Policy returns the policy that propagates exactly the template of gvk
// named name (in namespace, for a namespaced kind) to exactly the cluster,
// with each cluster running all replicas and conflictResolution Overwrite,
// so that the member's existing object is taken over in place. A
// PropagationPolicy for a namespaced template, else a
// ClusterPropagationPolicy. tolerations let it onto the cluster despite
// the cluster's taints.
func Policy(gvk schema.GroupVersionKind, namespace, name, policyName, cluster string, tolerations []corev1.Toleration) client.Object {
	spec := policyv1alpha1.PropagationSpec{
		ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: name}},
		Placement: policyv1alpha1.Placement{
			ClusterAffinity:    &policyv1alpha1.ClusterAffinity{ClusterNames: []string{cluster}},
			ClusterTolerations: tolerations,
			ReplicaScheduling:  &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated},
		},
		ConflictResolution: policyv1alpha1.ConflictOverwrite,
	}
	if namespace != "" {
		return &policyv1alpha1.PropagationPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: policyv1alpha1.GroupVersion.String(), Kind: "PropagationPolicy"},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: policyName},
			Spec:       spec,
		}
	}
	return &policyv1alpha1.ClusterPropagationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: policyv1alpha1.GroupVersion.String(), Kind: "ClusterPropagationPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Spec:       spec,
	}
}

// Tolerations returns what tolerates the cluster's own scheduling taints,
// so that the object stays where it runs; they are exact (key, value and
// effect). Flotilla's taints are not tolerated: they are returned as
// blocking, because a cordoned or not-ready cluster takes no new template.
func Tolerations(taints []corev1.Taint) (tolerations []corev1.Toleration, blocking []corev1.Taint) {
	for _, t := range taints {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if t.Key == clusterv1alpha1.TaintUnschedulable || t.Key == clusterv1alpha1.TaintNotReady {
			blocking = append(blocking, t)
			continue
		}
		tolerations = append(tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpEqual, Value: t.Value, Effect: t.Effect})
	}
	return tolerations, blocking
}
