package top_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/" + name + ":v1"}}},
			},
		},
	}
}

// cleanupHub deletes what promote created on the hub when the test ends:
// the template (which removes the object from the member), the policy and
// the namespace.
func cleanupHub(t *testing.T, objs ...client.Object) {
	t.Helper()
	t.Cleanup(func() {
		for _, o := range objs {
			if err := env.Hub.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %T %s: %v", o, o.GetName(), err)
			}
		}
	})
}

// uidsOf returns the sorted UIDs of a Deployment's ReplicaSets and pods.
func uidsOf(t *testing.T, mc kubernetes.Interface, ns, app string) (replicaSets, pods []string) {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "app=" + app}
	rss, err := mc.AppsV1().ReplicaSets(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss.Items {
		replicaSets = append(replicaSets, string(rs.UID))
	}
	ps, err := mc.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		if p.DeletionTimestamp == nil {
			pods = append(pods, string(p.UID))
		}
	}
	sort.Strings(replicaSets)
	sort.Strings(pods)
	return replicaSets, pods
}

// TestPromoteDeployment: a Deployment created directly in a member is
// taken over in place: the hub gets the template and the policy, the
// binding reports it applied, and the member's Deployment keeps its UID,
// its spec, its ReplicaSet and its pods.
func TestPromoteDeployment(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns, cluster = "promote-web", "member-cluster-1"
	memberNamespace(t, cluster, ns)
	mc := env.MemberClient(t, cluster)
	created, err := mc.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "web", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var before *appsv1.Deployment
	framework.Eventually(t, timeout, func() error {
		d, err := mc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ObservedGeneration != d.Generation || d.Status.ReadyReplicas != 2 || d.Status.UpdatedReplicas != 2 {
			return fmt.Errorf("web not rolled out in the member yet: %+v", d.Status)
		}
		before = d
		return nil
	})
	rsBefore, podsBefore := uidsOf(t, mc, ns, "web")
	if len(rsBefore) != 1 || len(podsBefore) != 2 {
		t.Fatalf("before promote: %d ReplicaSets, %d pods; want 1 and 2", len(rsBefore), len(podsBefore))
	}
	pol := &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "promote-web"}}
	cleanupHub(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}, pol,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	out := mustFlotilla(t, "promote", "deployment/web", "-n", ns, "--cluster", cluster)
	want := fmt.Sprintf("deployment/web in member-cluster-1 is now managed by Flotilla (PropagationPolicy %s/promote-web); uid %s unchanged\n", ns, created.UID)
	if !strings.HasSuffix(out, want) {
		t.Errorf("output:\n%s\nwant it to end with:\n%s", out, want)
	}
	if strings.Contains(out, "token") {
		t.Errorf("the output mentions the member's token:\n%s", out)
	}

	// The hub has the template, claimed by the new policy.
	var tmpl appsv1.Deployment
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &tmpl); err != nil {
		t.Fatalf("the template is not on the hub: %v", err)
	}
	if diff := cmp.Diff(before.Spec.Template.Spec.Containers[0].Image, tmpl.Spec.Template.Spec.Containers[0].Image); diff != "" || *tmpl.Spec.Replicas != 2 {
		t.Errorf("template: replicas %d, image diff %s", *tmpl.Spec.Replicas, diff)
	}
	if got, want := tmpl.Annotations[workv1alpha1.AnnotationPolicy], "PropagationPolicy/"+ns+"/promote-web"; got != want {
		t.Errorf("template claimed by %q, want %q", got, want)
	}
	if tmpl.UID == before.UID {
		t.Errorf("the template has the member's uid")
	}
	if err := env.Hub.Get(ctx, client.ObjectKeyFromObject(pol), pol); err != nil {
		t.Fatal(err)
	}
	if pol.Spec.ConflictResolution != policyv1alpha1.ConflictOverwrite ||
		pol.Spec.Placement.ClusterAffinity == nil || !cmp.Equal(pol.Spec.Placement.ClusterAffinity.ClusterNames, []string{cluster}) ||
		pol.Spec.Placement.ReplicaScheduling == nil || pol.Spec.Placement.ReplicaScheduling.ReplicaSchedulingType != policyv1alpha1.ReplicaSchedulingTypeDuplicated {
		t.Errorf("policy spec: %+v", pol.Spec)
	}

	// The binding reports it applied in the cluster.
	var b workv1alpha1.ResourceBinding
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: workv1alpha1.BindingName("web", "Deployment")}, &b); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(b.Status.Conditions, workv1alpha1.ConditionApplied) {
		t.Errorf("binding Applied condition: %+v", meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionApplied))
	}
	if len(b.Status.Clusters) != 1 || b.Status.Clusters[0].Cluster != cluster || !b.Status.Clusters[0].Applied {
		t.Errorf("binding clusters: %+v", b.Status.Clusters)
	}

	// The member's Deployment was taken over in place: same UID, the same
	// ReplicaSet, the same pods. Its generation may advance by one: the
	// API server bumps a Deployment's generation when its annotations
	// change (they are copied to its ReplicaSets), and the takeover adds
	// Flotilla's; the Deployment controller then updates the ReplicaSet in
	// place, without a rollout.
	framework.Eventually(t, timeout, func() error {
		after, err := mc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if after.Status.ObservedGeneration != after.Generation || after.Status.ReadyReplicas != 2 {
			return fmt.Errorf("the member's controller has not observed generation %d yet: %+v", after.Generation, after.Status)
		}
		if after.Generation > before.Generation+1 {
			t.Errorf("the member's Deployment went from generation %d to %d: more than the takeover's annotations", before.Generation, after.Generation)
		}
		return nil
	})
	deadline := time.Now().Add(3 * time.Second)
	for {
		after, err := mc.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.UID != created.UID {
			t.Fatalf("the member's Deployment was recreated: uid %s, was %s", after.UID, created.UID)
		}
		if after.Labels[clusterv1alpha1.LabelManagedBy] != clusterv1alpha1.ManagedByValue {
			t.Fatalf("the member's Deployment is not labelled as Flotilla's: %v", after.Labels)
		}
		if diff := cmp.Diff(before.Spec, after.Spec); diff != "" {
			t.Fatalf("the member's Deployment spec changed (-before +after):\n%s", diff)
		}
		rsAfter, podsAfter := uidsOf(t, mc, ns, "web")
		if diff := cmp.Diff(rsBefore, rsAfter); diff != "" {
			t.Fatalf("the member's ReplicaSets changed (a rollout) (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(podsBefore, podsAfter); diff != "" {
			t.Fatalf("the member's pods changed (-before +after):\n%s", diff)
		}
		if time.Now().After(deadline) {
			t.Logf("member Deployment: uid %s, generation %d (was %d), ReplicaSet %v and pods %v unchanged",
				after.UID, after.Generation, before.Generation, rsAfter, podsAfter)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Promoting it again finds it managed.
	out, code := flotilla(t, "promote", "deployment/web", "-n", ns, "--cluster", cluster)
	if code == 0 || !strings.Contains(out, "deployment/web in cluster member-cluster-1 is already managed by Flotilla (binding "+ns+"/web-deployment)") {
		t.Errorf("promoting again: exit %d, output %q; want it already managed", code, out)
	}
}

// TestPromoteService: a Service keeps its UID and the cluster IP the
// member allocated; the template on the hub carries neither.
func TestPromoteService(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns, cluster = "promote-svc", "member-cluster-2"
	memberNamespace(t, cluster, ns)
	mc := env.MemberClient(t, cluster)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	created, err := mc.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cleanupHub(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}},
		&policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-svc"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	out := mustFlotilla(t, "promote", "svc", "web", "-n", ns, "--cluster", cluster, "--policy-name", "web-svc")
	want := fmt.Sprintf("service/web in member-cluster-2 is now managed by Flotilla (PropagationPolicy %s/web-svc); uid %s unchanged\n", ns, created.UID)
	if !strings.HasSuffix(out, want) {
		t.Errorf("output:\n%s\nwant it to end with:\n%s", out, want)
	}
	after, err := mc.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID != created.UID || after.Spec.ClusterIP != created.Spec.ClusterIP || after.Spec.Ports[0].NodePort != created.Spec.Ports[0].NodePort {
		t.Errorf("the member's Service changed: uid %s→%s, clusterIP %s→%s, nodePort %d→%d", created.UID, after.UID,
			created.Spec.ClusterIP, after.Spec.ClusterIP, created.Spec.Ports[0].NodePort, after.Spec.Ports[0].NodePort)
	}
}

// TestPromoteDryRun: --dry-run prints the documents and changes nothing.
func TestPromoteDryRun(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns, cluster = "promote-dry", "member-cluster-2"
	memberNamespace(t, cluster, ns)
	mc := env.MemberClient(t, cluster)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	if _, err := mc.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := mustFlotilla(t, "promote", "cm/settings", "-n", ns, "--cluster", cluster, "--dry-run")
	docs := strings.Split(out, "---\n")
	if len(docs) != 3 {
		t.Fatalf("got %d documents, want the namespace, the policy and the template:\n%s", len(docs), out)
	}
	for i, wants := range [][]string{
		{"kind: Namespace", "name: " + ns},
		{"kind: PropagationPolicy", "name: promote-settings", "conflictResolution: Overwrite", "- " + cluster, "replicaSchedulingType: Duplicated", "kind: ConfigMap", "name: settings"},
		{"kind: ConfigMap", "mode: fast", "name: settings"},
	} {
		for _, w := range wants {
			if !strings.Contains(docs[i], w) {
				t.Errorf("document %d lacks %q:\n%s", i, w, docs[i])
			}
		}
	}
	for _, never := range []string{"uid:", "resourceVersion:", "managedFields:", "creationTimestamp:"} {
		if strings.Contains(out, never) {
			t.Errorf("the documents carry %s:\n%s", never, out)
		}
	}
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("--dry-run created the namespace on the hub: %v", err)
	}
	var pps policyv1alpha1.PropagationPolicyList
	if err := env.Hub.List(ctx, &pps, client.InNamespace(ns)); err != nil || len(pps.Items) != 0 {
		t.Errorf("--dry-run created policies: %v %v", pps.Items, err)
	}
}

// TestPromoteErrors: what cannot be promoted is refused with a clear
// message, before anything is written.
func TestPromoteErrors(t *testing.T) {
	framework.Require(t, env)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"promote", "deployment/web", "--cluster", "nope"}, `cluster "nope" not found; flotilla get clusters lists the fleet`},
		{[]string{"promote", "deployment/ghost", "-n", "default", "--cluster", "member-cluster-1"}, "deployment/ghost not found in cluster member-cluster-1 in namespace default"},
		{[]string{"promote", "deployment/web"}, "--cluster CLUSTER"},
		{[]string{"promote", "pp/x", "--cluster", "member-cluster-1"}, "one of Flotilla's own kinds"},
		{[]string{"promote", "deployment/coredns", "-n", "kube-system", "--cluster", "member-cluster-1"}, "namespace kube-system belongs to the clusters themselves"},
	} {
		out, code := flotilla(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("flotilla %v: exit %d, output %q; want an error with %q", tc.args, code, out, tc.want)
		}
	}
	var pps policyv1alpha1.PropagationPolicyList
	if err := env.Hub.List(context.Background(), &pps, client.InNamespace("default")); err != nil || len(pps.Items) != 0 {
		t.Errorf("a refused promote created policies: %v %v", pps.Items, err)
	}
}
