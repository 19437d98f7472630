// Package top_test checks `flotilla top clusters`, `flotilla promote` and
// the flotilla_bindings metric end to end: a real hub with the hub's
// controllers running in-process, and two real kwokctl members joined in
// push mode. The fleet starts once, in TestMain.
package top_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

// timeout bounds each wait on the fleet.
const timeout = 90 * time.Second

// Fast probing and summaries, so that clusters are Ready and summarized
// within seconds.
var healthOpts = clusterhealth.Options{
	ProbeInterval:    time.Second,
	ProbeTimeout:     2 * time.Second,
	FailureThreshold: 2,
	MaxBackoff:       2 * time.Second,
	StatusRefresh:    2 * time.Second,
	Workers:          4,
}

func TestMain(m *testing.M) {
	members := []localfleet.MemberSpec{
		{Name: "member-cluster-1", Nodes: 2, Region: "region-a", Provider: "cloud-a"},
		{Name: "member-cluster-2", Nodes: 1, Region: "region-b", Provider: "cloud-b"},
	}
	os.Exit(framework.Run(m, framework.Options{Members: members, Join: true}, &env,
		framework.InProcessHub(hub.Options{Health: healthOpts})))
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

// memberNamespace creates a namespace in a member and deletes it when the
// test ends.
func memberNamespace(t *testing.T, cluster, name string) {
	t.Helper()
	mc := env.MemberClient(t, cluster)
	ctx := context.Background()
	if _, err := mc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mc.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s in %s: %v", name, cluster, err)
		}
	})
}
