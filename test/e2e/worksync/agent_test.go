package worksync_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	runtimepkg "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/agent/worksync"
	"github.com/flotilla-io/flotilla/test/framework"
)

// agent is one engine under test: its cluster's namespace and identity on
// the hub, the proxy it reaches the hub through, and its state directory,
// which outlives restarts.
type agent struct {
	t        *testing.T
	cluster  string
	ns       string
	stateDir string
	proxy    *partition
	hubCfg   *rest.Config
	local    *rest.Config
	reg      *prometheus.Registry

	engine *worksync.Engine
	cancel context.CancelFunc
	done   chan error
}

// agentRole is everything an agent may do on the hub for its work.
var agentRole = []rbacv1.PolicyRule{
	{APIGroups: []string{workv1alpha1.GroupVersion.Group}, Resources: []string{"works"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{workv1alpha1.GroupVersion.Group}, Resources: []string{"works/status"}, Verbs: []string{"patch"}},
}

// newAgent makes the hub namespace of cluster, a ServiceAccount bound to
// agentRole there, and a proxy to the hub; the engine is not started.
func newAgent(t *testing.T, cluster string) *agent {
	t.Helper()
	ctx := context.Background()
	a := &agent{t: t, cluster: cluster, ns: workv1alpha1.ClusterNamespace(cluster), stateDir: t.TempDir(), reg: prometheus.NewRegistry()}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "agent"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "agent"}, Rules: agentRole},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "agent"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "agent"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: a.ns, Name: "agent"}}},
	}
	for _, o := range objs {
		if err := env.Hub.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = env.Hub.Delete(context.Background(), objs[0]) })
	cs, err := kubernetes.NewForConfig(env.HubConfig)
	if err != nil {
		t.Fatal(err)
	}
	ttl := int64(3600)
	tok, err := cs.CoreV1().ServiceAccounts(a.ns).CreateToken(ctx, "agent",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(env.Fleet.Hub.URL)
	if err != nil {
		t.Fatal(err)
	}
	a.proxy = newPartition(t, u.Host)
	a.hubCfg = &rest.Config{
		Host:            "https://" + a.proxy.addr,
		BearerToken:     tok.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: env.Fleet.Hub.CAFile},
	}
	if a.local, err = env.Member(member).RESTConfig(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	return a
}

// start runs a new engine on the agent's state directory.
func (a *agent) start() {
	a.t.Helper()
	e, err := worksync.New(a.hubCfg, a.local, worksync.Options{Cluster: a.cluster, StateDir: a.stateDir, Registerer: a.reg})
	if err != nil {
		a.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(log.IntoContext(context.Background(), testr.New(a.t)))
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	a.engine, a.cancel, a.done = e, cancel, done
}

// stop ends the engine's Run and waits for it.
func (a *agent) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	select {
	case err := <-a.done:
		if err != nil {
			a.t.Errorf("engine: %v", err)
		}
	case <-time.After(30 * time.Second):
		a.t.Error("the engine did not stop within 30s")
	}
	a.cancel = nil
}

// restart stops the engine and starts a new one on the same state.
func (a *agent) restart() {
	a.t.Helper()
	a.stop()
	a.start()
}

// cut partitions the agent from the hub and waits until it noticed.
func (a *agent) cut() {
	a.t.Helper()
	a.proxy.cut()
	framework.Eventually(a.t, 20*time.Second, func() error {
		if a.engine.Connected() {
			return fmt.Errorf("the engine still believes it is connected")
		}
		return nil
	})
}

// metric returns the value of a counter or gauge of the agent, summed over
// labels matching want.
func (a *agent) metric(name string, want map[string]string) float64 {
	a.t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		a.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// createWork writes a Work for binding name in the agent's namespace.
func (a *agent) createWork(name string, manifests ...*unstructured.Unstructured) *workv1alpha1.Work {
	a.t.Helper()
	w := &workv1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name}}
	w.Spec.Binding = workv1alpha1.ObjectReference{APIVersion: workv1alpha1.GroupVersion.String(), Kind: "ResourceBinding", Namespace: "apps", Name: name, UID: "binding-" + name}
	w.Spec.ConflictResolution = policyv1alpha1.ConflictAbort
	w.Spec.Manifests = raw(manifests...)
	if err := env.Hub.Create(context.Background(), w); err != nil {
		a.t.Fatal(err)
	}
	return w
}

// setManifests replaces a Work's manifests on the hub.
func (a *agent) setManifests(name string, manifests ...*unstructured.Unstructured) {
	a.t.Helper()
	var w workv1alpha1.Work
	if err := env.Hub.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: name}, &w); err != nil {
		a.t.Fatal(err)
	}
	w.Spec.Manifests = raw(manifests...)
	if err := env.Hub.Update(context.Background(), &w); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agent) deleteWork(name string) {
	a.t.Helper()
	w := &workv1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name}}
	if err := env.Hub.Delete(context.Background(), w); err != nil {
		a.t.Fatal(err)
	}
}

func (a *agent) work(name string) (*workv1alpha1.Work, error) {
	var w workv1alpha1.Work
	err := env.Hub.Get(context.Background(), client.ObjectKey{Namespace: a.ns, Name: name}, &w)
	return &w, err
}

// current says why the status of a Work on the hub is not current yet:
// the agent has acted on its generation, applied every manifest, and
// every object is healthy at its own current generation.
func (a *agent) current(name string) error {
	w, err := a.work(name)
	if err != nil {
		return err
	}
	st := w.Status
	if st.ObservedGeneration != w.Generation {
		return fmt.Errorf("work %s: status for generation %d, spec at %d", name, st.ObservedGeneration, w.Generation)
	}
	for _, ct := range []string{workv1alpha1.WorkConditionApplied, workv1alpha1.WorkConditionAvailable} {
		c := meta.FindStatusCondition(st.Conditions, ct)
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != w.Generation {
			return fmt.Errorf("work %s: condition %s is %+v", name, ct, c)
		}
	}
	if len(st.Manifests) != len(w.Spec.Manifests) {
		return fmt.Errorf("work %s: %d manifest statuses for %d manifests", name, len(st.Manifests), len(w.Spec.Manifests))
	}
	for _, m := range st.Manifests {
		if !m.Applied || m.Health != workv1alpha1.HealthHealthy || m.ObservedGeneration < m.Generation {
			return fmt.Errorf("work %s: manifest %s/%s is %+v", name, m.Kind, m.Name, m)
		}
	}
	if st.LastSyncTime == nil {
		return fmt.Errorf("work %s: no lastSyncTime", name)
	}
	return nil
}

func raw(manifests ...*unstructured.Unstructured) []runtimepkg.RawExtension {
	out := make([]runtimepkg.RawExtension, 0, len(manifests))
	for _, m := range manifests {
		b, err := json.Marshal(m.Object)
		if err != nil {
			panic(err)
		}
		out = append(out, runtimepkg.RawExtension{Raw: b})
	}
	return out
}

// deployment is a manifest as the hub renders one for a Pull cluster:
// Flotilla's labels, the binding's UID and the manifest hash.
func deployment(ns, name, image string, replicas int64, bindingUID string) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name": name, "namespace": ns,
			"labels": map[string]any{
				clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue,
				workv1alpha1.LabelBindingUID:   bindingUID,
				"app":                          name,
			},
			"annotations": map[string]any{workv1alpha1.AnnotationBinding: "apps/" + name},
		},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "app", "image": image},
				}},
			},
		},
	}}
	b, _ := json.Marshal(u.Object)
	sum := sha256.Sum256(b)
	ann := u.GetAnnotations()
	ann[workv1alpha1.AnnotationManifestHash] = hex.EncodeToString(sum[:8])
	u.SetAnnotations(ann)
	return u
}

// memberClient is an admin client of the agent's cluster.
func memberClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	return env.MemberClient(t, member)
}

// agentClient is a client of the hub with the agent's identity, not
// through the proxy.
func (a *agent) agentClient() client.Client {
	a.t.Helper()
	cfg := rest.CopyConfig(a.hubCfg)
	u, _ := url.Parse(env.Fleet.Hub.URL)
	cfg.Host = "https://" + u.Host
	c, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// logMemory reports the test process's memory: the engine runs in it, so
// this bounds the agent's from above (the process also holds the test's
// own clients).
func logMemory(t *testing.T, what string) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := "unknown"
	if f, err := os.Open("/proc/self/status"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "VmRSS:") {
				rss = strings.TrimSpace(strings.TrimPrefix(s.Text(), "VmRSS:"))
			}
		}
		_ = f.Close()
	}
	t.Logf("memory %s: process RSS %s, Go heap in use %.1f MiB, Go runtime total (Sys) %.1f MiB",
		what, rss, float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
}
