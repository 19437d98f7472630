package worksync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/test/framework"
)

// How long the agent gets for things that take a moment in a kwok cluster:
// an apply, a rollout, a status write.
const settle = 90 * time.Second

func getDeployment(mc kubernetes.Interface, ns, name string) (*appsv1.Deployment, error) {
	return mc.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// image returns the image of a Deployment's first container in the member.
func image(mc kubernetes.Interface, ns, name string) (string, error) {
	d, err := getDeployment(mc, ns, name)
	if err != nil {
		return "", err
	}
	return d.Spec.Template.Spec.Containers[0].Image, nil
}

// present fails the test unless the Deployment exists in the member.
func present(t *testing.T, mc kubernetes.Interface, ns, name string) {
	t.Helper()
	if _, err := getDeployment(mc, ns, name); err != nil {
		t.Fatalf("deployment %s/%s: %v", ns, name, err)
	}
}

// restoredAfterDelete deletes a Deployment in the member and waits for the
// engine to put it back: a new object of the same name.
func restoredAfterDelete(t *testing.T, mc kubernetes.Interface, ns, name string) {
	t.Helper()
	d, err := getDeployment(mc, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.AppsV1().Deployments(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	framework.Eventually(t, settle, func() error {
		n, err := getDeployment(mc, ns, name)
		if err != nil {
			return err
		}
		if n.UID == d.UID {
			return fmt.Errorf("still the deleted object")
		}
		return nil
	})
	t.Logf("deployment %s/%s deleted locally and restored in %s", ns, name, time.Since(start).Round(time.Millisecond))
}

// during checks cond every half second for d, failing at its first error:
// it watches what must not happen over a span of time.
func during(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// TestApplyAndReport: a Work with a Deployment appears in the member, and
// the hub shows it Applied and Available, with the Deployment's counters.
func TestApplyAndReport(t *testing.T) {
	framework.Require(t, env)
	a := newAgent(t, "edge-apply")
	mc := memberClient(t)
	a.start()
	a.createWork("apps.web", deployment("wk-apply", "web", "nginx:1.25", 2, "binding-web"))
	start := time.Now()
	framework.Eventually(t, settle, func() error { return a.current("apps.web") })
	t.Logf("work applied and reported healthy in %s", time.Since(start).Round(time.Millisecond))

	w, _ := a.work("apps.web")
	m := w.Status.Manifests[0]
	if m.Kind != "Deployment" || m.Namespace != "wk-apply" || m.Name != "web" || m.Reason != workv1alpha1.ReasonApplied {
		t.Errorf("manifest status = %+v", m)
	}
	if m.Status == nil || string(m.Status.Raw) == "" {
		t.Errorf("no trimmed status in %+v", m)
	} else {
		t.Logf("trimmed status: %s", m.Status.Raw)
	}
	d, err := getDeployment(mc, "wk-apply", "web")
	if err != nil {
		t.Fatal(err)
	}
	if mf := d.ManagedFields; len(mf) == 0 || !hasManager(d, "flotilla-agent") {
		t.Errorf("the Deployment is not applied by flotilla-agent: %+v", mf)
	}
	if !a.engine.Connected() {
		t.Error("Connected() is false with the hub up")
	}
	if v := a.metric("flotilla_agent_hub_connected", nil); v != 1 {
		t.Errorf("flotilla_agent_hub_connected = %v", v)
	}
	if v := a.metric("flotilla_agent_applies_total", map[string]string{"result": "success"}); v < 1 {
		t.Errorf("flotilla_agent_applies_total{result=success} = %v", v)
	}

	// The agent's identity reaches nothing but its own works.
	ac := a.agentClient()
	var other workv1alpha1.WorkList
	if err := ac.List(context.Background(), &other, client.InNamespace("default")); !apierrors.IsForbidden(err) {
		t.Errorf("listing another namespace's works: %v, want Forbidden", err)
	}
	if err := ac.Update(context.Background(), w); !apierrors.IsForbidden(err) {
		t.Errorf("updating its Work's spec: %v, want Forbidden", err)
	}
	logMemory(t, "with one engine and one Work")
}

func hasManager(d *appsv1.Deployment, name string) bool {
	for _, f := range d.ManagedFields {
		if f.Manager == name && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// TestPartition: cut from the hub, the workloads stay and a deleted one is
// restored; what changed on the hub meanwhile (an update, a new Work, a
// deleted Work) arrives after reconnecting, and the status catches up.
func TestPartition(t *testing.T) {
	framework.Require(t, env)
	t.Parallel()
	const ns = "wk-partition"
	a := newAgent(t, "edge-partition")
	mc := memberClient(t)
	a.start()
	a.createWork("apps.web", deployment(ns, "web", "nginx:1.25", 2, "binding-web"))
	a.createWork("apps.old", deployment(ns, "old", "nginx:1.25", 1, "binding-old"))
	framework.Eventually(t, settle, func() error {
		if err := a.current("apps.web"); err != nil {
			return err
		}
		return a.current("apps.old")
	})

	a.cut()
	cutAt := time.Now()
	restoredAfterDelete(t, mc, ns, "web")

	// Meanwhile on the hub: a new image, a new Work, a deleted Work.
	a.setManifests("apps.web", deployment(ns, "web", "nginx:1.26", 2, "binding-web"))
	a.createWork("apps.api", deployment(ns, "api", "nginx:1.25", 1, "binding-api"))
	a.deleteWork("apps.old")

	rest := partitionFor() - time.Since(cutAt)
	t.Logf("keeping the partition %s more (%s in all)", rest.Round(time.Second), partitionFor())
	during(t, rest, func() error {
		if a.engine.Connected() {
			return fmt.Errorf("connected through a cut proxy")
		}
		if img, err := image(mc, ns, "web"); err != nil || img != "nginx:1.25" {
			return fmt.Errorf("web during the partition: image %q, %v", img, err)
		}
		if _, err := getDeployment(mc, ns, "old"); err != nil {
			return fmt.Errorf("old during the partition: %v", err)
		}
		if _, err := getDeployment(mc, ns, "api"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("api arrived through a cut proxy: %v", err)
		}
		return nil
	})

	a.proxy.restore(t)
	back := time.Now()
	var connectedAfter time.Duration
	framework.Eventually(t, settle, func() error {
		if connectedAfter == 0 && a.engine.Connected() {
			connectedAfter = time.Since(back)
		}
		if img, err := image(mc, ns, "web"); err != nil || img != "nginx:1.26" {
			return fmt.Errorf("web: image %q, %v", img, err)
		}
		if _, err := getDeployment(mc, ns, "api"); err != nil {
			return fmt.Errorf("api: %v", err)
		}
		if _, err := getDeployment(mc, ns, "old"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("old is still there: %v", err)
		}
		if err := a.current("apps.web"); err != nil {
			return err
		}
		return a.current("apps.api")
	})
	t.Logf("reconnect to current status: %s (the engine saw the hub again after %s)",
		time.Since(back).Round(time.Millisecond), connectedAfter.Round(time.Millisecond))
	if v := a.metric("flotilla_agent_drift_corrections_total", map[string]string{"cause": "deleted"}); v < 1 {
		t.Errorf("flotilla_agent_drift_corrections_total{cause=deleted} = %v", v)
	}
	if v := a.metric("flotilla_agent_hub_connection_transitions_total", map[string]string{"state": "disconnected"}); v < 1 {
		t.Errorf("no disconnection counted: %v", v)
	}
}

// TestRestartWhilePartitioned: an engine started with the hub unreachable
// resumes from its store and keeps correcting drift.
func TestRestartWhilePartitioned(t *testing.T) {
	framework.Require(t, env)
	t.Parallel()
	const ns = "wk-restart"
	a := newAgent(t, "edge-restart")
	mc := memberClient(t)
	a.start()
	a.createWork("apps.web", deployment(ns, "web", "nginx:1.25", 2, "binding-web"))
	framework.Eventually(t, settle, func() error { return a.current("apps.web") })

	a.cut()
	a.restart()
	restoredAfterDelete(t, mc, ns, "web")
	framework.Eventually(t, settle, func() error {
		if v := a.metric("flotilla_agent_drift_corrections_total", map[string]string{"cause": "deleted"}); v < 1 {
			return fmt.Errorf("flotilla_agent_drift_corrections_total{cause=deleted} = %v", v)
		}
		return nil
	})

	// Scale it by hand: the engine puts the replicas back.
	if _, err := mc.AppsV1().Deployments(ns).Patch(context.Background(), "web", types.MergePatchType,
		[]byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, settle, func() error {
		d, err := getDeployment(mc, ns, "web")
		if err != nil {
			return err
		}
		if *d.Spec.Replicas != 2 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		// The engine counts the correction once the cluster answered it.
		if v := a.metric("flotilla_agent_drift_corrections_total", map[string]string{"cause": "changed"}); v < 1 {
			return fmt.Errorf("flotilla_agent_drift_corrections_total{cause=changed} = %v", v)
		}
		return nil
	})
	if a.engine.Connected() {
		t.Fatal("the restarted engine reached the hub through a cut proxy")
	}

	a.proxy.restore(t)
	framework.Eventually(t, settle, func() error {
		if !a.engine.Connected() {
			return fmt.Errorf("not connected")
		}
		return a.current("apps.web")
	})
}

// TestNoDeleteWhileUnreachable: Works deleted on the hub while the agent
// cannot reach it leave their objects running, across a restart, until
// the agent hears from the hub; then only the one that does not preserve
// its objects goes.
func TestNoDeleteWhileUnreachable(t *testing.T) {
	framework.Require(t, env)
	t.Parallel()
	const ns = "wk-nodelete"
	a := newAgent(t, "edge-nodelete")
	mc := memberClient(t)
	a.start()
	a.createWork("apps.web", deployment(ns, "web", "nginx:1.25", 1, "binding-web"))
	kept := a.createWork("apps.kept", deployment(ns, "kept", "nginx:1.25", 1, "binding-kept"))
	kept.Spec.PreserveResourcesOnDeletion = true
	if err := env.Hub.Update(context.Background(), kept); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, settle, func() error {
		if err := a.current("apps.web"); err != nil {
			return err
		}
		return a.current("apps.kept")
	})

	a.cut()
	cutAt := time.Now()
	a.deleteWork("apps.web")
	a.deleteWork("apps.kept")
	bothStay := func() error {
		for _, n := range []string{"web", "kept"} {
			if _, err := getDeployment(mc, ns, n); err != nil {
				return fmt.Errorf("%s went while the hub was unreachable: %v", n, err)
			}
		}
		return nil
	}
	during(t, (partitionFor()-time.Since(cutAt))/2, bothStay)
	a.restart()
	during(t, partitionFor()-time.Since(cutAt), bothStay)

	// The restarted engine's first list after reconnecting lacks both.
	a.proxy.restore(t)
	framework.Eventually(t, settle, func() error {
		if _, err := getDeployment(mc, ns, "web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("web: %v", err)
		}
		if v := a.metric("flotilla_agent_works", nil); v != 0 {
			return fmt.Errorf("%v works in the store", v)
		}
		return nil
	})
	present(t, mc, ns, "kept")
}
