package registration_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/agent/heartbeat"
	"github.com/flotilla-io/flotilla/internal/agent/identity"
	"github.com/flotilla-io/flotilla/internal/doctor"
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/test/framework"
)

// asAgent returns clients for the hub with the agent's real certificate,
// as its directory holds it.
func asAgent(t *testing.T, dir string) (kubernetes.Interface, client.Client) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, identity.KubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cs, c
}

// renewLease renews a cluster's lease as the agent would.
func renewLease(cs kubernetes.Interface, cluster string) error {
	return heartbeat.Renew(context.Background(), cs, heartbeat.Options{Cluster: cluster, Interval: time.Second, LeaseDuration: 4 * time.Second, Holder: "e2e"})
}

// can asks the hub, with the agent's own credentials, whether it may.
func can(t *testing.T, cs kubernetes.Interface, ns, group, resource, sub, verb string) bool {
	t.Helper()
	r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Group: group, Resource: resource, Subresource: sub, Verb: verb,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status.Allowed
}

func TestAgentRBACIsLeastPrivilege(t *testing.T) {
	framework.Require(t, env)
	const a, b = "edge-rbac-a", "edge-rbac-b"
	dirA := mustRegister(t, a)
	dirB := mustRegister(t, b)
	csA, cA := asAgent(t, dirA)
	csB, _ := asAgent(t, dirB)
	if err := renewLease(csB, b); err != nil {
		t.Fatalf("agent B renews its own lease: %v", err)
	}
	ctx := context.Background()
	status := func(name string) error {
		return cA.Status().Patch(ctx, &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}},
			client.RawPatch(types.MergePatchType, []byte(`{"status":{"kubernetesVersion":"v0.0.0-rbac"}}`)))
	}
	// Real requests with agent A's certificate.
	requests := map[string]struct {
		do      func() error
		allowed bool
	}{
		"get its own Cluster":      {func() error { return cA.Get(ctx, client.ObjectKey{Name: a}, &clusterv1alpha1.Cluster{}) }, true},
		"write its own status":     {func() error { return status(a) }, true},
		"renew its own lease":      {func() error { return renewLease(csA, a) }, true},
		"get cluster B":            {func() error { return cA.Get(ctx, client.ObjectKey{Name: b}, &clusterv1alpha1.Cluster{}) }, false},
		"list clusters":            {func() error { return cA.List(ctx, &clusterv1alpha1.ClusterList{}) }, false},
		"write cluster B's status": {func() error { return status(b) }, false},
		"renew cluster B's lease":  {func() error { return renewLease(csA, b) }, false},
		"read cluster B's lease": {func() error {
			_, err := csA.CoordinationV1().Leases(registration.ClusterNamespace(b)).Get(ctx, b, metav1.GetOptions{})
			return err
		}, false},
		"delete its own Cluster": {func() error { return cA.Delete(ctx, &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: a}}) }, false},
		"list Secrets in its namespace": {func() error {
			_, err := csA.CoreV1().Secrets(registration.ClusterNamespace(a)).List(ctx, metav1.ListOptions{})
			return err
		}, false},
		"list certificate signing requests": {func() error {
			_, err := csA.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
			return err
		}, false},
		"read cluster B's renewal request": {func() error {
			_, err := csA.CertificatesV1().CertificateSigningRequests().Get(ctx, registration.RenewalCSRName(b), metav1.GetOptions{})
			return err
		}, false},
		"untaint its own Cluster": {func() error {
			return cA.Patch(ctx, &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: a}},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"taints":[]}}`)))
		}, false},
		"create a namespace": {func() error {
			_, err := csA.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "agent-made"}}, metav1.CreateOptions{})
			return err
		}, false},
	}
	for name, r := range requests {
		err := r.do()
		switch {
		case r.allowed && err != nil:
			t.Errorf("agent A may %s, but: %v", name, err)
		case !r.allowed && !apierrors.IsForbidden(err):
			t.Errorf("agent A must not %s: want 403 Forbidden, got %v", name, err)
		}
	}

	// What the hub would let agent A do, asked with its own credentials.
	nsA, nsB := registration.ClusterNamespace(a), registration.ClusterNamespace(b)
	reviews := []struct {
		ns, group, resource, sub, verb string
		allowed                        bool
	}{
		{nsA, "work.flotilla.io", "works", "", "get", true},
		{nsA, "work.flotilla.io", "works", "", "list", true},
		{nsA, "work.flotilla.io", "works", "", "watch", true},
		{nsA, "work.flotilla.io", "works", "status", "update", true},
		{nsA, "work.flotilla.io", "works", "status", "patch", true},
		{nsA, "work.flotilla.io", "works", "", "create", false},
		{nsA, "work.flotilla.io", "works", "", "update", false},
		{nsA, "work.flotilla.io", "works", "", "delete", false},
		{nsB, "work.flotilla.io", "works", "", "get", false},
		{nsB, "work.flotilla.io", "works", "", "list", false},
		{nsB, "work.flotilla.io", "works", "", "watch", false},
		{nsB, "work.flotilla.io", "works", "status", "patch", false},
		{nsA, "", "events", "", "create", true},
		{nsB, "", "events", "", "create", false},
		{nsB, "coordination.k8s.io", "leases", "", "create", false},
		{"default", "work.flotilla.io", "works", "", "list", false},
		{"", "certificates.k8s.io", "certificatesigningrequests", "", "create", true},
		{"", "", "secrets", "", "list", false},
		{"", "rbac.authorization.k8s.io", "clusterroles", "", "create", false},
	}
	for _, r := range reviews {
		if got := can(t, csA, r.ns, r.group, r.resource, r.sub, r.verb); got != r.allowed {
			t.Errorf("agent A may %s %s/%s in %q: %v, want %v", r.verb, r.resource, r.sub, r.ns, got, r.allowed)
		}
	}

	// flotilla doctor asks the hub the same, for every agent.
	out, stderr, err := run(t, "doctor", "-o", "json")
	var rep doctor.Report
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("flotilla doctor -o json: %v (%v)\n%s%s", jerr, err, out, stderr)
	}
	for _, r := range rep.Checks {
		if r.Name == "agent-rbac" && (r.Status != doctor.Pass || !strings.Contains(strings.Join(r.Evidence, "\n"), a+": reaches its own work")) {
			t.Errorf("doctor agent-rbac: %s %s %v", r.Status, r.Summary, r.Evidence)
		}
	}
}

func TestOfflineWhenAgentStopsAndBack(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-offline"
	dir := mustRegister(t, name)
	ag := startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, registration.ReasonHeartbeating)
	})

	ag.kill()
	killed := time.Now()
	// The lease lasts 4s; the hub marks the cluster Offline soon after.
	framework.Eventually(t, leaseDuration+10*time.Second, func() error {
		if err := wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionTrue, registration.ReasonLeaseExpired); err != nil {
			return err
		}
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, registration.ReasonOffline)
	})
	c, err := cluster(t, name)
	if err != nil {
		t.Fatal(err)
	}
	// Not at once: only once the lease has run out.
	offline := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionOffline).LastTransitionTime.Time
	if early := offline.Sub(killed); early < leaseDuration-2*time.Second {
		t.Errorf("the hub marked the cluster Offline %s after the agent stopped, before its %s lease could run out", early, leaseDuration)
	}

	startAgent(t, dir)
	framework.Eventually(t, 20*time.Second, func() error {
		if err := wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, registration.ReasonHeartbeating); err != nil {
			return err
		}
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, registration.ReasonHeartbeating)
	})
}

func TestUnjoinRevokesAgent(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-unjoined"
	dir := mustRegister(t, name)
	startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, registration.ReasonHeartbeating)
	})
	old, oldClient := asAgent(t, dir)

	if stdout, stderr, err := run(t, "unjoin", name); err != nil {
		t.Fatalf("unjoin: %v\n%s%s", err, stdout, stderr)
	}
	// Its certificate is still valid for hours, but authorizes nothing.
	framework.Eventually(t, 60*time.Second, func() error {
		if err := renewLease(old, name); !apierrors.IsForbidden(err) {
			return fmt.Errorf("renew the lease after unjoin: want Forbidden, got %v", err)
		}
		if err := oldClient.Get(context.Background(), client.ObjectKey{Name: name}, &clusterv1alpha1.Cluster{}); !apierrors.IsForbidden(err) {
			return fmt.Errorf("read its Cluster after unjoin: want Forbidden, got %v", err)
		}
		return nil
	})

	// The same name registered anew: the old certificate stays cut off.
	newDir := mustRegister(t, name)
	fresh, _ := asAgent(t, newDir)
	framework.Eventually(t, 30*time.Second, func() error { return renewLease(fresh, name) })
	if err := renewLease(old, name); !apierrors.IsForbidden(err) {
		t.Errorf("the revoked agent renews the lease of the new registration: want Forbidden, got %v", err)
	}
}

func TestCertificateRotation(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-rotate"
	dir := mustRegister(t, name, "--cert-lifetime", "10m")

	// Give the agent a certificate that expires in 30s: it must renew it
	// at about 70% of that, and go on with the new one.
	short := forgeShortCert(t, dir, 30*time.Second)
	startAgent(t, dir)
	framework.Eventually(t, 60*time.Second, func() error {
		c := readCert(t, dir)
		if c.SerialNumber.Cmp(short.SerialNumber) == 0 {
			return fmt.Errorf("still the short-lived certificate")
		}
		// The signer backdates notBefore by 5m: check what is left.
		if left := time.Until(c.NotAfter); left < 8*time.Minute || left > 10*time.Minute {
			return fmt.Errorf("the renewed certificate expires in %s, want about 10m", left)
		}
		return nil
	})
	if renewedAt := time.Now(); renewedAt.After(short.NotAfter) {
		t.Errorf("renewed at %s, after the certificate expired at %s", renewedAt, short.NotAfter)
	}

	// Past the old certificate's expiry the agent still heartbeats: it
	// presents the new one.
	framework.Eventually(t, time.Until(short.NotAfter)+30*time.Second, func() error {
		var l coordinationLease
		if err := l.get(name); err != nil {
			return err
		}
		if !l.renewed.After(short.NotAfter.Add(2 * time.Second)) {
			return fmt.Errorf("lease last renewed at %s; the old certificate expires at %s", l.renewed, short.NotAfter)
		}
		return nil
	})
	if err := wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, registration.ReasonHeartbeating); err != nil {
		t.Error(err)
	}
	if err := hasEvent(name, registration.EventCertificateRenewed); err != nil {
		t.Error(err)
	}
}

// forgeShortCert replaces the agent's certificate with one of the same
// identity and key that the hub CA signed for life only.
func forgeShortCert(t *testing.T, dir string, life time.Duration) *x509.Certificate {
	t.Helper()
	path := filepath.Join(dir, identity.CertFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(b, b)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(env.Fleet.Hub.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(filepath.Dir(env.Fleet.Hub.CAFile), "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := tls.X509KeyPair(caPEM, caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: sn, Subject: leaf.Subject, NotBefore: now.Add(-time.Second), NotAfter: now.Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, leaf.PublicKey, ca.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	out := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// coordinationLease is a cluster's heartbeat lease as the hub holds it.
type coordinationLease struct{ renewed time.Time }

func (l *coordinationLease) get(cluster string) error {
	cs, err := kubernetes.NewForConfig(env.HubConfig)
	if err != nil {
		return err
	}
	lease, err := cs.CoordinationV1().Leases(registration.ClusterNamespace(cluster)).Get(context.Background(), registration.LeaseName(cluster), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if lease.Spec.RenewTime == nil {
		return fmt.Errorf("lease never renewed")
	}
	l.renewed = lease.Spec.RenewTime.Time
	return nil
}

// hasEvent checks that the hub recorded an event of the reason about the
// cluster.
func hasEvent(cluster, reason string) error {
	cs, err := kubernetes.NewForConfig(env.HubConfig)
	if err != nil {
		return err
	}
	l, err := cs.EventsV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	var seen []string
	for _, e := range l.Items {
		if e.Regarding.Name == cluster {
			if e.Reason == reason {
				return nil
			}
			seen = append(seen, e.Reason)
		}
	}
	return fmt.Errorf("no %s event about cluster %s; it has: %s", reason, cluster, strings.Join(seen, ", "))
}
