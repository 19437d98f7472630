package propagation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

const timeout = 90 * time.Second

var allMembers = []string{"member-cluster-1", "member-cluster-2", "edge-cluster"}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Hub.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

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

func policy(ns, name string, sel policyv1alpha1.ResourceSelector, clusters ...string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{sel},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: clusters},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated,
				},
			},
		},
	}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Hub.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// memberDeployment returns the Deployment in a member, or nil.
func memberDeployment(t *testing.T, cluster, ns, name string) (*appsv1.Deployment, error) {
	d, err := env.MemberClient(t, cluster).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return d, err
}

func binding(t *testing.T, ns, name string) (*workv1alpha1.ResourceBinding, error) {
	var b workv1alpha1.ResourceBinding
	err := env.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &b)
	return &b, err
}

// TestSeedCase1Weighted applies the seed's case 1 unchanged through
// `flotilla apply`: 3 replicas divided 2:1 between member-cluster-1 and
// member-cluster-2, none on edge-cluster, and the hub shows 3/3 ready.
func TestSeedCase1Weighted(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "case1")
	if out, err := flotilla(t, "apply", "-f", seedFile(t, "case1-weighted.yaml"), "-n", "case1"); err != nil {
		t.Fatalf("flotilla apply: %v\n%s", err, out)
	}
	want := map[string]int32{"member-cluster-1": 2, "member-cluster-2": 1}
	framework.Eventually(t, timeout, func() error {
		for _, c := range allMembers {
			d, err := memberDeployment(t, c, "case1", "myapp")
			if err != nil {
				return err
			}
			w, ok := want[c]
			switch {
			case !ok && d != nil:
				return fmt.Errorf("%s runs myapp, but the policy gives it nothing", c)
			case !ok:
				continue
			case d == nil:
				return fmt.Errorf("%s does not run myapp yet", c)
			case *d.Spec.Replicas != w || d.Status.ReadyReplicas != w:
				return fmt.Errorf("%s: myapp has %d replicas, %d ready; want %d", c, *d.Spec.Replicas, d.Status.ReadyReplicas, w)
			}
		}
		return nil
	})
	framework.Eventually(t, timeout, func() error {
		var d appsv1.Deployment
		if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "case1", Name: "myapp"}, &d); err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 3 || d.Status.Replicas != 3 {
			return fmt.Errorf("hub shows myapp %d/%d ready, want 3/3", d.Status.ReadyReplicas, d.Status.Replicas)
		}
		if got := d.Annotations[workv1alpha1.AnnotationPolicy]; got != "PropagationPolicy/case1/myapp-propagation" {
			return fmt.Errorf("claim annotation is %q", got)
		}
		return nil
	})
	b, err := binding(t, "case1", "myapp-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionScheduled); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("binding not Scheduled: %+v", b.Status.Conditions)
	}
	found := false
	for _, d := range b.Status.Decisions {
		if d.Cluster == "edge-cluster" {
			found = true
			if d.Chosen || d.Reason == "" {
				t.Errorf("edge-cluster decision: %+v, want not chosen with a reason", d)
			}
		}
	}
	if !found {
		t.Errorf("no decision recorded for edge-cluster: %+v", b.Status.Decisions)
	}

	out, err := flotilla(t, "describe", "deployment/myapp", "-n", "case1")
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	for _, s := range []string{"myapp-propagation", "member-cluster-1", "member-cluster-2", "edge-cluster"} {
		if !strings.Contains(out, s) {
			t.Errorf("describe does not mention %q:\n%s", s, out)
		}
	}
	out, err = flotilla(t, "get", "bindings", "-n", "case1")
	if err != nil || !strings.Contains(out, "myapp-deployment") {
		t.Errorf("get bindings: %v\n%s", err, out)
	}
}

// TestSeedKarmadaPolicies applies the seed's Karmada documents unchanged.
// They name clusters cluster1 and cluster2, which this test registers as
// two more Cluster objects for member-cluster-1 and member-cluster-2.
func TestSeedKarmadaPolicies(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	for alias, target := range map[string]string{"cluster1": "member-cluster-1", "cluster2": "member-cluster-2"} {
		alias, target := alias, target
		var c clusterv1alpha1.Cluster
		if err := env.Hub.Get(ctx, client.ObjectKey{Name: target}, &c); err != nil {
			t.Fatal(err)
		}
		var s corev1.Secret
		if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}, &s); err != nil {
			t.Fatal(err)
		}
		ns := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: "cluster-" + alias}, Data: s.Data}
		nc := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: alias}, Spec: *c.Spec.DeepCopy()}
		nc.Spec.SecretRef.Name = ns.Name
		create(t, ns, nc)
		t.Cleanup(func() {
			_ = env.Hub.Delete(context.Background(), nc)
			_ = env.Hub.Delete(context.Background(), ns)
		})
	}
	createNamespace(t, "karmada-seed")
	create(t, deployment("karmada-seed", "myapp", 2),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "karmada-seed", Name: "myapp-config"}, Data: map[string]string{"k": "v"}})
	if out, err := flotilla(t, "apply", "-f", seedFile(t, "karmada-propagation-policies.yaml"), "-n", "karmada-seed"); err != nil {
		t.Fatalf("flotilla apply: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = env.Hub.Delete(context.Background(), &policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "myapp-cluster-propagation"}})
	})
	framework.Eventually(t, timeout, func() error {
		for _, c := range []string{"member-cluster-1", "member-cluster-2"} {
			d, err := memberDeployment(t, c, "karmada-seed", "myapp")
			if err != nil {
				return err
			}
			if d == nil || *d.Spec.Replicas != 2 {
				return fmt.Errorf("%s: myapp not duplicated with 2 replicas yet", c)
			}
			if _, err := env.MemberClient(t, c).CoreV1().ConfigMaps("karmada-seed").Get(ctx, "myapp-config", metav1.GetOptions{}); err != nil {
				return fmt.Errorf("%s: ConfigMap: %v", c, err)
			}
		}
		if d, _ := memberDeployment(t, "edge-cluster", "karmada-seed", "myapp"); d != nil {
			return fmt.Errorf("edge-cluster got myapp")
		}
		return nil
	})
}

// TestConflictAbortThenOverwrite: an object Flotilla did not create is
// left alone under Abort and reported; Overwrite takes it over.
func TestConflictAbortThenOverwrite(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "conflict")
	mc := env.MemberClient(t, "member-cluster-1")
	if _, err := mc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "conflict"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	local := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "conflict", Name: "settings"}, Data: map[string]string{"owner": "someone-else"}}
	if _, err := mc.CoreV1().ConfigMaps("conflict").Create(ctx, local, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := policy("conflict", "settings", policyv1alpha1.ResourceSelector{APIVersion: "v1", Kind: "ConfigMap", Name: "settings"}, "member-cluster-1", "member-cluster-2")
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "conflict", Name: "settings"}, Data: map[string]string{"owner": "flotilla"}}, p)

	framework.Eventually(t, timeout, func() error {
		b, err := binding(t, "conflict", "settings-configmap")
		if err != nil {
			return err
		}
		byCluster := map[string]workv1alpha1.ClusterStatus{}
		for _, c := range b.Status.Clusters {
			byCluster[c.Cluster] = c
		}
		if c := byCluster["member-cluster-1"]; c.Reason != workv1alpha1.ReasonConflict || !strings.Contains(c.Message, "Overwrite") {
			return fmt.Errorf("member-cluster-1 status %+v, want a Conflict that names the fix", c)
		}
		if c := byCluster["member-cluster-2"]; !c.Applied {
			return fmt.Errorf("member-cluster-2 status %+v, want applied", c)
		}
		if c := meta.FindStatusCondition(b.Status.Conditions, workv1alpha1.ConditionApplied); c == nil || c.Reason != workv1alpha1.ReasonConflict {
			return fmt.Errorf("Applied condition %+v, want reason Conflict", c)
		}
		return nil
	})
	cm, err := mc.CoreV1().ConfigMaps("conflict").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["owner"] != "someone-else" {
		t.Fatalf("Abort changed the member's object: %v %v", cm.Data, err)
	}
	framework.Eventually(t, timeout, func() error {
		var evs corev1.EventList
		if err := env.Hub.List(ctx, &evs, client.InNamespace("conflict")); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == workv1alpha1.ReasonConflict {
				return nil
			}
		}
		return fmt.Errorf("no Conflict event yet")
	})

	if err := env.Hub.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	p.Spec.ConflictResolution = policyv1alpha1.ConflictOverwrite
	if err := env.Hub.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		cm, err := mc.CoreV1().ConfigMaps("conflict").Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data["owner"] != "flotilla" || cm.Labels[clusterv1alpha1.LabelManagedBy] != clusterv1alpha1.ManagedByValue {
			return fmt.Errorf("not taken over yet: %v %v", cm.Data, cm.Labels)
		}
		if cm.UID != local.UID && local.UID != "" {
			return fmt.Errorf("object was recreated")
		}
		return nil
	})
}

// TestDriftDeletionAndPreserve: edits and deletions in a member are
// corrected; leaving the placement and deleting the template remove the
// member objects, unless the policy preserves them.
func TestDriftDeletionAndPreserve(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "drift")
	create(t, deployment("drift", "web", 1),
		policy("drift", "web", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, "member-cluster-1", "member-cluster-2"))
	m1 := env.MemberClient(t, "member-cluster-1")
	framework.Eventually(t, timeout, func() error {
		for _, c := range []string{"member-cluster-1", "member-cluster-2"} {
			if d, err := memberDeployment(t, c, "drift", "web"); err != nil || d == nil {
				return fmt.Errorf("%s: web not there yet (%v)", c, err)
			}
		}
		return nil
	})

	// Someone edits the image in the member: put back.
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"evil.example.com/web:hacked"}]}}}}`)
	if _, err := m1.AppsV1().Deployments("drift").Patch(ctx, "web", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		d, err := memberDeployment(t, "member-cluster-1", "drift", "web")
		if err != nil || d == nil {
			return fmt.Errorf("web missing: %v", err)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "example.com/web:v1" {
			return fmt.Errorf("drift not corrected: image %s", img)
		}
		return nil
	})

	// Someone deletes it in the member: recreated.
	if err := m1.AppsV1().Deployments("drift").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		d, err := memberDeployment(t, "member-cluster-1", "drift", "web")
		if err != nil || d == nil || !d.DeletionTimestamp.IsZero() {
			return fmt.Errorf("web not recreated yet (%v)", err)
		}
		return nil
	})

	// member-cluster-2 leaves the placement: removed there.
	var p policyv1alpha1.PropagationPolicy
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "drift", Name: "web"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Placement.ClusterAffinity.ClusterNames = []string{"member-cluster-1"}
	if err := env.Hub.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		if d, err := memberDeployment(t, "member-cluster-2", "drift", "web"); err != nil || d != nil {
			return fmt.Errorf("web still in member-cluster-2 (%v)", err)
		}
		return nil
	})

	// The template is deleted: removed from member-cluster-1, and the
	// binding goes.
	if err := env.Hub.Delete(ctx, deployment("drift", "web", 1)); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		if d, err := memberDeployment(t, "member-cluster-1", "drift", "web"); err != nil || d != nil {
			return fmt.Errorf("web still in member-cluster-1 (%v)", err)
		}
		if _, err := binding(t, "drift", "web-deployment"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("binding still there (%v)", err)
		}
		return nil
	})

	// preserveResourcesOnDeletion keeps the member's copy.
	kp := policy("drift", "kept", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "kept"}, "member-cluster-1")
	kp.Spec.PreserveResourcesOnDeletion = ptr.To(true)
	create(t, deployment("drift", "kept", 1), kp)
	framework.Eventually(t, timeout, func() error {
		if d, err := memberDeployment(t, "member-cluster-1", "drift", "kept"); err != nil || d == nil {
			return fmt.Errorf("kept not there yet (%v)", err)
		}
		return nil
	})
	if err := env.Hub.Delete(ctx, deployment("drift", "kept", 1)); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		if _, err := binding(t, "drift", "kept-deployment"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("binding still there (%v)", err)
		}
		return nil
	})
	if d, err := memberDeployment(t, "member-cluster-1", "drift", "kept"); err != nil || d == nil {
		t.Fatalf("preserveResourcesOnDeletion did not keep the member's copy (%v)", err)
	}
}

// TestNamespaceDeletionRemovesEachObjectOnce: deleting a namespace on the
// hub removes its templates' objects from every member, each deleted there
// once, and the namespace goes (every binding's finalizer came off).
func TestNamespaceDeletionRemovesEachObjectOnce(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const ns, n = "nsdelete", 12
	clusters := []string{"member-cluster-1", "member-cluster-2"}
	createNamespace(t, ns)
	create(t, policy(ns, "all", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment"}, clusters...))
	for i := range n {
		create(t, deployment(ns, fmt.Sprintf("app-%02d", i), 1))
	}
	count := func(c string) int {
		l, err := env.MemberClient(t, c).AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	framework.Eventually(t, timeout, func() error {
		for _, c := range clusters {
			if got := count(c); got != n {
				return fmt.Errorf("%s has %d of %d Deployments", c, got, n)
			}
		}
		return nil
	})
	deletes := map[string]string{"operation": "delete", "result": "success"}
	before := counter(t, "flotilla_member_writes_total", deletes)
	if err := env.Hub.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		for _, c := range clusters {
			if got := count(c); got != 0 {
				return fmt.Errorf("%s still has %d Deployments", c, got)
			}
		}
		err := env.Hub.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("hub namespace %s not gone yet (%v)", ns, err)
		}
		return nil
	})
	if got, want := counter(t, "flotilla_member_writes_total", deletes)-before, float64(n*len(clusters)); got != want {
		t.Errorf("member deletes: got %v, want one per object (%v)", got, want)
	}
}

// TestFieldsLeaveWithTheTemplate: execution creates a new object in a
// member (a create, not an apply); when a field later leaves the template
// it leaves the member's object too, as it would had the object been
// applied from the start, and Flotilla's create ownership has become its
// apply ownership.
func TestFieldsLeaveWithTheTemplate(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "fields")
	d := deployment("fields", "web", 1)
	d.Labels["old"] = "yes"
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "OLD", Value: "yes"}}
	create(t, d, policy("fields", "web", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}, "member-cluster-1"))
	framework.Eventually(t, timeout, func() error {
		md, err := memberDeployment(t, "member-cluster-1", "fields", "web")
		if err != nil || md == nil || md.Labels["old"] != "yes" {
			return fmt.Errorf("web with label old=yes not in member-cluster-1 yet (%v)", err)
		}
		return nil
	})

	var tmpl appsv1.Deployment
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "fields", Name: "web"}, &tmpl); err != nil {
		t.Fatal(err)
	}
	delete(tmpl.Labels, "old")
	tmpl.Labels["new"] = "yes"
	tmpl.Spec.Template.Spec.Containers[0].Env = nil
	if err := env.Hub.Update(ctx, &tmpl); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		md, err := memberDeployment(t, "member-cluster-1", "fields", "web")
		if err != nil || md == nil {
			return fmt.Errorf("web missing: %v", err)
		}
		if md.Labels["new"] != "yes" {
			return fmt.Errorf("the template's change has not arrived: labels %v", md.Labels)
		}
		if _, ok := md.Labels["old"]; ok {
			return fmt.Errorf("label old stayed after it left the template: labels %v", md.Labels)
		}
		if env := md.Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
			return fmt.Errorf("env stayed after it left the template: %v", env)
		}
		for _, f := range md.ManagedFields {
			if f.Manager == "flotilla" && f.Operation == metav1.ManagedFieldsOperationUpdate {
				return fmt.Errorf("flotilla still owns fields through its create: %+v", md.ManagedFields)
			}
		}
		return nil
	})
}

// TestDependenciesFollowTheWorkload: with propagateDeps the ConfigMap,
// Secret and ServiceAccount a Deployment uses go where it goes, and leave
// with it.
func TestDependenciesFollowTheWorkload(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	createNamespace(t, "deps")
	d := deployment("deps", "api", 1)
	d.Spec.Template.Spec.ServiceAccountName = "api"
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "api-config"}}}}}
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "api-secret"}, Key: "password"}}}}
	p := policy("deps", "api", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment", Name: "api"}, "member-cluster-2")
	p.Spec.PropagateDeps = true
	create(t,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "deps", Name: "api-config"}, Data: map[string]string{"mode": "fast"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "deps", Name: "api-secret"}, StringData: map[string]string{"password": "s3cret"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "deps", Name: "api"}},
		d, p)
	m2 := env.MemberClient(t, "member-cluster-2")
	check := func(present bool) func() error {
		return func() error {
			_, e1 := m2.CoreV1().ConfigMaps("deps").Get(ctx, "api-config", metav1.GetOptions{})
			_, e2 := m2.CoreV1().Secrets("deps").Get(ctx, "api-secret", metav1.GetOptions{})
			_, e3 := m2.CoreV1().ServiceAccounts("deps").Get(ctx, "api", metav1.GetOptions{})
			dep, e4 := memberDeployment(t, "member-cluster-2", "deps", "api")
			for _, e := range []error{e1, e2, e3, e4} {
				if present && e != nil {
					return e
				}
				if !present && e != nil && !apierrors.IsNotFound(e) {
					return e
				}
			}
			if present && (dep == nil) {
				return fmt.Errorf("deployment not there yet")
			}
			if !present && (e1 == nil || e2 == nil || e3 == nil || dep != nil) {
				return fmt.Errorf("dependencies still in member-cluster-2 (configmap %v, secret %v, sa %v, deploy %v)", e1, e2, e3, dep != nil)
			}
			return nil
		}
	}
	framework.Eventually(t, timeout, check(true))
	// A change to a dependency on the hub reaches the member.
	var cm corev1.ConfigMap
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: "deps", Name: "api-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["mode"] = "safe"
	if err := env.Hub.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, func() error {
		got, err := m2.CoreV1().ConfigMaps("deps").Get(ctx, "api-config", metav1.GetOptions{})
		if err != nil || got.Data["mode"] != "safe" {
			return fmt.Errorf("dependency change not propagated: %v %v", got.Data, err)
		}
		return nil
	})
	if err := env.Hub.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, timeout, check(false))
}
