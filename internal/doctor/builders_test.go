package doctor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// clusterBuilder makes test Clusters: makeCluster("a").Ready().Obj().
type clusterBuilder struct{ c clusterv1alpha1.Cluster }

func makeCluster(name string) *clusterBuilder {
	return &clusterBuilder{clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push, APIEndpoint: "https://127.0.0.1:6443",
			SecretRef: &clusterv1alpha1.SecretReference{Namespace: member.Namespace, Name: "cluster-" + name}},
		Status: clusterv1alpha1.ClusterStatus{KubernetesVersion: "v1.37.2", NodeSummary: &clusterv1alpha1.NodeSummary{Total: 2, Ready: 2}},
	}}
}

func (b *clusterBuilder) Ready() *clusterBuilder {
	return b.Condition(metav1.ConditionTrue, clusterv1alpha1.ReasonHealthy, "the API server is ready").Probed(5*time.Second, 8)
}

func (b *clusterBuilder) Condition(s metav1.ConditionStatus, reason, msg string) *clusterBuilder {
	b.c.Status.Conditions = append(b.c.Status.Conditions, metav1.Condition{Type: clusterv1alpha1.ConditionReady, Status: s, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))})
	return b
}

func (b *clusterBuilder) Probed(ago time.Duration, latencyMS int64) *clusterBuilder {
	b.c.Status.LastProbeTime = ptr.To(metav1.NewTime(now.Add(-ago)))
	b.c.Status.ProbeLatencyMilliseconds = &latencyMS
	return b
}

func (b *clusterBuilder) Pull() *clusterBuilder {
	b.c.Spec = clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull}
	return b
}

func (b *clusterBuilder) Taint(key string, effect corev1.TaintEffect) *clusterBuilder {
	b.c.Spec.Taints = append(b.c.Spec.Taints, corev1.Taint{Key: key, Effect: effect})
	return b
}

func (b *clusterBuilder) Endpoint(u string) *clusterBuilder { b.c.Spec.APIEndpoint = u; return b }

func (b *clusterBuilder) Obj() *clusterv1alpha1.Cluster { return b.c.DeepCopy() }

// bindingBuilder makes ResourceBindings: makeBinding("shop", "web", "Deployment").Scheduled(...).
type bindingBuilder struct{ b workv1alpha1.ResourceBinding }

func makeBinding(ns, template, kind string) *bindingBuilder {
	return &bindingBuilder{workv1alpha1.ResourceBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: workv1alpha1.BindingName(template, kind)},
		Spec: workv1alpha1.BindingSpec{
			Resource: workv1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: kind, Namespace: ns, Name: template},
			Policy:   workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: ns, Name: template},
		},
	}}
}

func (b *bindingBuilder) Policy(kind, ns, name string) *bindingBuilder {
	b.b.Spec.Policy = workv1alpha1.PolicyReference{Kind: kind, Namespace: ns, Name: name}
	return b
}

func (b *bindingBuilder) Cond(t string, s metav1.ConditionStatus, reason, msg string) *bindingBuilder {
	b.b.Status.Conditions = append(b.b.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg})
	return b
}

func (b *bindingBuilder) Healthy(clusters ...string) *bindingBuilder {
	for _, c := range clusters {
		b.b.Spec.Clusters = append(b.b.Spec.Clusters, workv1alpha1.TargetCluster{Name: c, Replicas: 1})
	}
	return b.Cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, "scheduled").
		Cond(workv1alpha1.ConditionApplied, metav1.ConditionTrue, workv1alpha1.ReasonApplied, "applied")
}

func (b *bindingBuilder) Evicted(cluster string) *bindingBuilder {
	b.b.Spec.Evictions = append(b.b.Spec.Evictions, workv1alpha1.Eviction{Cluster: cluster, Reason: workv1alpha1.EvictionClusterFailure,
		Message: cluster + " was not Ready for 60s", CreationTimestamp: metav1.NewTime(now.Add(-time.Minute)), Deadline: metav1.NewTime(now.Add(9 * time.Minute))})
	return b
}

func (b *bindingBuilder) Obj() *workv1alpha1.ResourceBinding { return b.b.DeepCopy() }

func pp(ns, name string, sels ...policyv1alpha1.ResourceSelector) *policyv1alpha1.PropagationPolicy {
	if len(sels) == 0 {
		sels = []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment", Name: name}}
	}
	return &policyv1alpha1.PropagationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: policyv1alpha1.PropagationSpec{ResourceSelectors: sels}}
}

func lease(holder string, renewedAgo time.Duration) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: member.Namespace, Name: LeaderLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](15),
			RenewTime: ptr.To(metav1.NewMicroTime(now.Add(-renewedAgo)))}}
}

// fakeHub answers probes with fixed results.
type fakeHub struct {
	status HubStatus
	chain  []*x509.Certificate
	err    error
}

func (h *fakeHub) Probe(context.Context) HubStatus { return h.status }
func (h *fakeHub) ServingCertificates(context.Context) ([]*x509.Certificate, error) {
	return h.chain, h.err
}

func healthyHub(t *testing.T) *fakeHub {
	return &fakeHub{status: HubStatus{Version: "v1.37.2", GroupVersions: append([]string{"v1", "apps/v1"}, flotillaGroupVersions...)},
		chain: []*x509.Certificate{cert(t, "kube-apiserver", now.Add(300*24*time.Hour))}}
}

// newEnv is an Env over a fake hub holding objs, with metrics from body
// (nil: the endpoint does not answer).
func newEnv(t *testing.T, hub *fakeHub, metrics []byte, objs ...client.Object) *Env {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(objs...).Build()
	return &Env{
		Client: c, Hub: hub, Now: now,
		Conn: Connection{Kubeconfig: "/home/me/.flotilla/kubeconfig/hub.yaml (from $FLOTILLA_HOME)", Server: "https://127.0.0.1:6443",
			CACerts: []*x509.Certificate{cert(t, "flotilla-ca", now.Add(3000*24*time.Hour))}},
		Metrics: MetricsEndpoint{URL: "http://127.0.0.1:8080/metrics", Source: "default", Get: func(context.Context, string) ([]byte, error) {
			if metrics == nil {
				return nil, errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")
			}
			return metrics, nil
		}},
	}
}

// runOne runs one check of DefaultChecks by name, with Run's gating.
func runOne(t *testing.T, e *Env, name string) Result {
	t.Helper()
	for _, c := range DefaultChecks {
		if c.Name == name {
			return Run(context.Background(), e, []Check{c}).Checks[0]
		}
	}
	t.Fatalf("no check %q", name)
	return Result{}
}

var certSerial int64

// cert makes a self-signed certificate valid until notAfter.
func cert(t *testing.T, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-400 * 24 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// jwt makes an unsigned token with the given claims JSON.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

func credSecret(cluster string, ca []byte, token string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: member.Namespace, Name: "cluster-" + cluster},
		Data: map[string][]byte{member.SecretKeyCACert: ca, member.SecretKeyToken: []byte(token)}}
}
