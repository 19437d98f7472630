package promote

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

func fromYAML(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// memberMeta is the metadata a member's API server fills in.
const memberMeta = `
  uid: 6f1d0c9e-0000-4000-8000-000000000001
  resourceVersion: "4711"
  generation: 3
  creationTimestamp: "2026-11-24T11:00:00Z"
  selfLink: /ignored
  finalizers: [example.com/keep]
  managedFields:
  - manager: kubectl-client-side-apply
    operation: Update
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: owner
    uid: 6f1d0c9e-0000-4000-8000-000000000002
`

func TestTemplate(t *testing.T) {
	for name, tc := range map[string]struct{ member, want string }{
		"deployment": {
			member: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    deployment.kubernetes.io/revision: "2"
    example.com/owner: team-a` + memberMeta + `
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
status:
  replicas: 2
  readyReplicas: 2
`,
			want: `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {example.com/owner: team-a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`,
		},
		"service drops its cluster IPs and node ports": {
			member: `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop` + memberMeta + `
spec:
  type: NodePort
  clusterIP: 10.96.0.12
  clusterIPs: [10.96.0.12]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
status: {loadBalancer: {}}
`,
			want: `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
`,
		},
		"headless service keeps clusterIP None": {
			member: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, clusterIPs: [None], selector: {app: db}, ports: [{port: 5432}]}
`,
			want: `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, clusterIPs: [None], selector: {app: db}, ports: [{port: 5432}]}
`,
		},
		"job drops its generated selector": {
			member: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  selector: {matchLabels: {batch.kubernetes.io/controller-uid: abc}}
  template:
    metadata:
      labels: {app: migrate, controller-uid: abc, batch.kubernetes.io/controller-uid: abc, job-name: migrate, batch.kubernetes.io/job-name: migrate}
    spec: {restartPolicy: Never, containers: [{name: m, image: migrate}]}
`,
			want: `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: migrate}
    spec: {restartPolicy: Never, containers: [{name: m, image: migrate}]}
`,
		},
		"cluster-scoped kind": {
			member: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-reader` + memberMeta + `
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`,
			want: `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: web-reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`,
		},
		"pvc drops its binding": {
			member: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: shop
  annotations: {pv.kubernetes.io/bind-completed: "yes", volume.kubernetes.io/selected-node: node-1, volume.kubernetes.io/storage-provisioner: x}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, volumeName: pvc-123}
`,
			want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Template(fromYAML(t, tc.member))
			if diff := cmp.Diff(fromYAML(t, tc.want).Object, got.Object); diff != "" {
				t.Errorf("template (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	deploy := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	pp, ok := Policy(deploy, "shop", "web", "promote-web", "member-cluster-1", nil).(*policyv1alpha1.PropagationPolicy)
	if !ok {
		t.Fatalf("a namespaced template needs a PropagationPolicy")
	}
	want := policyv1alpha1.PropagationSpec{
		ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}},
		Placement: policyv1alpha1.Placement{
			ClusterAffinity:   &policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}},
			ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated},
		},
		ConflictResolution: policyv1alpha1.ConflictOverwrite,
	}
	if diff := cmp.Diff(want, pp.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if pp.Namespace != "shop" || pp.Name != "promote-web" || pp.Kind != "PropagationPolicy" || pp.APIVersion != "policy.flotilla.io/v1alpha1" {
		t.Errorf("metadata: got %s %s/%s (%s)", pp.Kind, pp.Namespace, pp.Name, pp.APIVersion)
	}

	role := schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
	tol := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "edge", Effect: corev1.TaintEffectNoSchedule}}
	cpp, ok := Policy(role, "", "reader", "promote-reader", "edge", tol).(*policyv1alpha1.ClusterPropagationPolicy)
	if !ok {
		t.Fatalf("a cluster-scoped template needs a ClusterPropagationPolicy")
	}
	if cpp.Namespace != "" || cpp.Name != "promote-reader" || cpp.Spec.ResourceSelectors[0].APIVersion != "rbac.authorization.k8s.io/v1" {
		t.Errorf("cluster policy: got %+v", cpp)
	}
	if diff := cmp.Diff(tol, cpp.Spec.Placement.ClusterTolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
}

func TestTolerations(t *testing.T) {
	for name, tc := range map[string]struct {
		taints       []corev1.Taint
		wantTol      []corev1.Toleration
		wantBlocking []corev1.Taint
	}{
		"none": {},
		"user taints are tolerated exactly": {
			taints: []corev1.Taint{
				{Key: "dedicated", Value: "edge", Effect: corev1.TaintEffectNoSchedule},
				{Key: "maintenance", Effect: corev1.TaintEffectNoExecute},
				{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule},
			},
			wantTol: []corev1.Toleration{
				{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "edge", Effect: corev1.TaintEffectNoSchedule},
				{Key: "maintenance", Operator: corev1.TolerationOpEqual, Effect: corev1.TaintEffectNoExecute},
			},
		},
		"flotilla's taints block": {
			taints:       []corev1.Taint{{Key: clusterv1alpha1.TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule}},
			wantBlocking: []corev1.Taint{{Key: clusterv1alpha1.TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tol, blocking := Tolerations(tc.taints)
			if diff := cmp.Diff(tc.wantTol, tol); diff != "" {
				t.Errorf("tolerations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantBlocking, blocking); diff != "" {
				t.Errorf("blocking (-want +got):\n%s", diff)
			}
		})
	}
}
