// Package cli_test checks the cluster maintenance commands (cordon,
// uncordon, taint) and rebalance end to end: the flotilla binary against a
// real hub kube-apiserver with Flotilla's CRDs installed. No member cluster
// and no hub controller runs: the tests create Clusters and bindings
// directly, and play the scheduler's part themselves where they need it.
package cli_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.Run(m, framework.Options{}, &env))
}

// flotilla runs the binary under test against the hub and returns its
// combined output and exit code.
func flotilla(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := env.Flotilla(t, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &exit):
		return out, exit.ExitCode()
	}
	t.Fatalf("run flotilla %v: %v\n%s", args, err, out)
	return "", 0
}

// mustFlotilla runs the binary and fails the test unless it succeeds.
func mustFlotilla(t *testing.T, args ...string) string {
	t.Helper()
	out, code := flotilla(t, args...)
	if code != 0 {
		t.Fatalf("flotilla %v exited %d:\n%s", args, code, out)
	}
	return out
}

// create creates objects on the hub and deletes them when the test ends.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Hub.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		t.Cleanup(func() {
			if err := env.Hub.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %T %s: %v", o, o.GetName(), err)
			}
		})
	}
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Hub.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// cluster is a Pull-mode Cluster, which needs no endpoint nor credentials.
func cluster(name string, taints ...corev1.Taint) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull, Taints: taints}}
}

// taintsOf returns the taints of a cluster as KEY[=VALUE]:EFFECT.
func taintsOf(t *testing.T, name string) []string {
	t.Helper()
	var cl clusterv1alpha1.Cluster
	if err := env.Hub.Get(context.Background(), client.ObjectKey{Name: name}, &cl); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tn := range cl.Spec.Taints {
		out = append(out, tn.ToString())
	}
	return out
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
