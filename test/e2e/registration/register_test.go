package registration_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/agent/identity"
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/internal/scheduler/plugins/apienablement"
	"github.com/flotilla-io/flotilla/test/framework"
)

// readCert reads the agent's current certificate from its directory.
func readCert(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, identity.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			t.Fatalf("%s holds no certificate", identity.CertFile)
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
}

func TestRegisterWithGoodToken(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-good"
	j := createToken(t, "--ttl", "10m", "--description", "e2e good token")

	stdout, _, err := run(t, "token", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + j.TokenID() + `\s+\d+m\d*s?\s+\S+Z\s+authentication,signing\s+e2e good token\s*$`).MatchString(stdout) {
		t.Errorf("token list = %q, want a row for %s with its TTL, expiry, usages and description", stdout, j.TokenID())
	}
	if strings.Contains(stdout, j.Token) {
		t.Errorf("token list shows the token's secret")
	}

	dir := filepath.Join(t.TempDir(), "agent")
	stdout, stderr, err := register(t, j, name, dir, "--label", "site=shop-7", "--region", "eu-west")
	if err != nil {
		t.Fatalf("register: %v\n%s%s", err, stdout, stderr)
	}
	t.Cleanup(func() { unjoin(t, name) })
	if stdout != "cluster.cluster.flotilla.io/"+name+" registered\n" {
		t.Errorf("register stdout = %q", stdout)
	}
	for _, want := range []string{"the hub's CA matches --ca-cert-hash " + j.Hash, "approved: the certificate of system:flotilla:agent:" + name,
		"start its agent with: flotilla agent --dir " + dir} {
		if !strings.Contains(stderr, want) {
			t.Errorf("register stderr lacks %q:\n%s", want, stderr)
		}
	}

	// The directory: the certificate and key, private; no pending key.
	st, err := os.Stat(filepath.Join(dir, identity.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", identity.CertFile, st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, identity.PendingKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", identity.PendingKeyFile, err)
	}
	cert := readCert(t, dir)
	if cert.Subject.CommonName != "system:flotilla:agent:"+name || !slices.Contains(cert.Subject.Organization, registration.AgentsGroup) {
		t.Errorf("certificate subject %v", cert.Subject)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 23*time.Hour || life > 25*time.Hour {
		t.Errorf("certificate lifetime %s, want about 24h", life)
	}

	// The Cluster: Pull, with what the registration asked for.
	c, err := cluster(t, name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.SyncMode != clusterv1alpha1.Pull || c.Spec.Region != "eu-west" || c.Labels["site"] != "shop-7" ||
		c.Annotations[registration.AnnotationTokenID] != j.TokenID() {
		t.Errorf("cluster = spec %+v, labels %v, annotations %v", c.Spec, c.Labels, c.Annotations)
	}
	framework.Eventually(t, 20*time.Second, func() error {
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, registration.ReasonAwaitingAgent)
	})
	out, _, err := run(t, "get", "clusters")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + name + `\s+Pull\s+False\s`).MatchString(out) {
		t.Errorf("get clusters before the agent runs:\n%s", out)
	}

	// The agent heartbeats: Offline False, Ready True, and its status.
	startAgent(t, dir)
	framework.Eventually(t, 30*time.Second, func() error {
		if err := wantCondition(t, name, clusterv1alpha1.ConditionOffline, metav1.ConditionFalse, registration.ReasonHeartbeating); err != nil {
			return err
		}
		return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionTrue, registration.ReasonHeartbeating)
	})
	framework.Eventually(t, 30*time.Second, func() error {
		c, err := cluster(t, name)
		if err != nil {
			return err
		}
		if c.Status.KubernetesVersion == "" || c.Status.NodeSummary == nil || c.Status.NodeSummary.Total != 1 {
			return fmt.Errorf("status version %q, nodes %+v: want the local cluster's", c.Status.KubernetesVersion, c.Status.NodeSummary)
		}
		// The agent reports the kinds its cluster serves, for the
		// scheduler's API filter.
		if !apienablement.Serves(c.Status.APIEnablements, "apps/v1", "Deployment") || apienablement.Serves(c.Status.APIEnablements, "apps/v1", "Widget") {
			return fmt.Errorf("status apiEnablements %v: want the local cluster's kinds", c.Status.APIEnablements)
		}
		return nil
	})
	framework.Eventually(t, 10*time.Second, func() error {
		out, _, err := run(t, "get", "clusters")
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^` + name + `\s+Pull\s+True\s+v1\.`).MatchString(out) {
			return fmt.Errorf("get clusters:\n%s", out)
		}
		return nil
	})
	out, _, err = run(t, "describe", "cluster", name)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^Mode:\s+Pull$`, `(?m)^Offline policy:\s+StayPut \(default\)`,
		`(?m)^Last heartbeat:\s+\d+s ago \(\S+Z\), lease flotilla-cluster-` + name + `/` + name + ` lasts \d+s$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe cluster lacks %s:\n%s", re, out)
		}
	}
}

func TestRegisterWithExpiredToken(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-expired"
	j := createToken(t, "--ttl", "1s")
	exp := j.Expires
	framework.Eventually(t, 10*time.Second, func() error {
		if now := time.Now(); !now.After(exp) {
			return fmt.Errorf("token expires at %s", exp)
		}
		return nil
	})

	dir := filepath.Join(t.TempDir(), "agent")
	stdout, stderr, err := register(t, j, name, dir)
	if err == nil {
		t.Fatalf("register with an expired token succeeded:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stderr, "the hub rejected the bootstrap token") || !strings.Contains(stderr, "has expired") {
		t.Errorf("register error = %q, want that the hub rejected the token, which may have expired", stderr)
	}
	if csrs := agentCSRs(t, name); len(csrs) != 0 {
		t.Errorf("CSRs for %s: %d, want none", name, len(csrs))
	}
	if _, err := cluster(t, name); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s: want NotFound, got %v", name, err)
	}
}

func TestRegisterWithWrongCAHash(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-wrong-ca"
	j := createToken(t, "--ttl", "10m")
	j.Hash = "sha256:" + strings.Repeat("ab", 32)
	dir := filepath.Join(t.TempDir(), "agent")
	stdout, stderr, err := register(t, j, name, dir)
	if err == nil {
		t.Fatalf("register with a wrong CA hash succeeded:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stderr, "error: the hub's CA does not match --ca-cert-hash; refusing to talk to it") {
		t.Errorf("register error = %q", stderr)
	}
	// It stopped before it sent anything: no request, no key.
	if csrs := agentCSRs(t, name); len(csrs) != 0 {
		t.Errorf("CSRs for %s: %d, want none", name, len(csrs))
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("register wrote %s (%v): want nothing written", dir, err)
	}
	if _, err := cluster(t, name); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s: want NotFound, got %v", name, err)
	}
}

func TestRegisterWithRevokedToken(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-revoked"
	j := createToken(t, "--ttl", "10m")
	stdout, stderr, err := run(t, "token", "revoke", j.TokenID())
	if err != nil || stdout != "bootstrap token "+j.TokenID()+" revoked\n" {
		t.Fatalf("token revoke: %v\n%s%s", err, stdout, stderr)
	}
	if stdout, _, _ := run(t, "token", "list"); strings.Contains(stdout, j.TokenID()) {
		t.Errorf("token list after revoke still shows %s:\n%s", j.TokenID(), stdout)
	}
	if _, stderr, err := run(t, "token", "revoke", j.TokenID()); err == nil || !strings.Contains(stderr, "no bootstrap token") {
		t.Errorf("revoking twice: %v %s", err, stderr)
	}

	stdout, stderr, err = register(t, j, name, filepath.Join(t.TempDir(), "agent"))
	if err == nil {
		t.Fatalf("register with a revoked token succeeded:\n%s%s", stdout, stderr)
	}
	if !strings.Contains(stderr, "the hub rejected the bootstrap token "+j.TokenID()) {
		t.Errorf("register error = %q", stderr)
	}
	if csrs := agentCSRs(t, name); len(csrs) != 0 {
		t.Errorf("CSRs for %s: %d, want none", name, len(csrs))
	}
}

func TestRegisteredNameCannotBeTakenOver(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-owned"
	mustRegister(t, name)
	// Someone else, with a valid token of their own.
	j := createToken(t, "--ttl", "10m")
	stdout, stderr, err := register(t, j, name, filepath.Join(t.TempDir(), "intruder"))
	if err == nil {
		t.Fatalf("a second registration took cluster %s over:\n%s%s", name, stdout, stderr)
	}
	if !strings.Contains(stderr, "the hub denied the certificate request") || !strings.Contains(stderr, "is already registered by another agent") {
		t.Errorf("register error = %q", stderr)
	}
	c, err := cluster(t, name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Annotations[registration.AnnotationTokenID] == j.TokenID() {
		t.Errorf("cluster %s now records the intruder's token", name)
	}
}

// startRegister starts `flotilla register` without waiting for it.
func startRegister(t *testing.T, j joinCommand, name string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, registerArgs(j, name, filepath.Join(t.TempDir(), "agent"))...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out
}

// waitExit waits for a process to end, at most timeout.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not end within %s", cmd.Args[1], timeout)
		return nil
	}
}

func TestRequireAccept(t *testing.T) {
	framework.Require(t, env)
	j := createToken(t, "--ttl", "10m", "--require-accept")
	stdout, _, err := run(t, "token", "list", "-o", "wide")
	if err != nil || !regexp.MustCompile(`(?m)^`+j.TokenID()+`\s.*\strue\s+system:bootstrappers:flotilla\s*$`).MatchString(stdout) {
		t.Errorf("token list -o wide: %v\n%s", err, stdout)
	}

	t.Run("accept", func(t *testing.T) {
		const name = "edge-accepted"
		cmd, out := startRegister(t, j, name)
		t.Cleanup(func() { unjoin(t, name) })
		framework.Eventually(t, 30*time.Second, func() error {
			return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, registration.ReasonAwaitingAcceptance)
		})
		for _, csr := range agentCSRs(t, name) {
			if len(csr.Status.Conditions) > 0 || len(csr.Status.Certificate) > 0 {
				t.Errorf("CSR %s decided before acceptance: %+v", csr.Name, csr.Status.Conditions)
			}
		}
		stdout, stderr, err := run(t, "accept", name)
		if err != nil || stdout != "cluster.cluster.flotilla.io/"+name+" accepted\n" {
			t.Fatalf("accept: %v\n%s%s", err, stdout, stderr)
		}
		if err := waitExit(t, cmd, time.Minute); err != nil {
			t.Fatalf("register after accept: %v\n%s", err, out)
		}
		if !strings.Contains(out.String(), "registered") {
			t.Errorf("register output:\n%s", out)
		}
		if _, stderr, err := run(t, "accept", name); err == nil || !strings.Contains(stderr, "is already accepted") {
			t.Errorf("accepting twice: %v %s", err, stderr)
		}
	})

	t.Run("reject", func(t *testing.T) {
		const name = "edge-rejected"
		cmd, out := startRegister(t, j, name)
		framework.Eventually(t, 30*time.Second, func() error {
			return wantCondition(t, name, clusterv1alpha1.ConditionReady, metav1.ConditionFalse, registration.ReasonAwaitingAcceptance)
		})
		stdout, stderr, err := run(t, "accept", "--reject", name)
		if err != nil || stdout != "cluster.cluster.flotilla.io/"+name+" rejected\n" {
			t.Fatalf("accept --reject: %v\n%s%s", err, stdout, stderr)
		}
		if err := waitExit(t, cmd, time.Minute); err == nil {
			t.Fatalf("register succeeded after rejection:\n%s", out)
		}
		if !strings.Contains(out.String(), "an administrator rejected the registration of cluster "+name) {
			t.Errorf("register output:\n%s", out)
		}
		framework.Eventually(t, 10*time.Second, func() error {
			if _, err := cluster(t, name); !apierrors.IsNotFound(err) {
				return fmt.Errorf("cluster %s: want NotFound, got %v", name, err)
			}
			return nil
		})
		for _, csr := range agentCSRs(t, name) {
			if !slices.ContainsFunc(csr.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool {
				return c.Type == certificatesv1.CertificateDenied
			}) {
				t.Errorf("CSR %s not denied: %+v", csr.Name, csr.Status.Conditions)
			}
		}
	})
}

func TestResumeInterruptedRegistration(t *testing.T) {
	framework.Require(t, env)
	const name = "edge-resumed"
	j := createToken(t, "--ttl", "10m", "--require-accept")
	dir := filepath.Join(t.TempDir(), "agent")
	cmd := exec.Command(bin, registerArgs(j, name, dir)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unjoin(t, name) })
	framework.Eventually(t, 30*time.Second, func() error {
		if len(agentCSRs(t, name)) != 1 {
			return fmt.Errorf("want one CSR for %s", name)
		}
		return nil
	})
	// Interrupted while it waits.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, stderr, err := run(t, "accept", name); err != nil {
		t.Fatalf("accept: %v %s", err, stderr)
	}
	stdout, stderr, err := register(t, j, name, dir)
	if err != nil {
		t.Fatalf("register again: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "resuming certificate signing request") {
		t.Errorf("register did not resume its request:\n%s", stderr)
	}
	if n := len(agentCSRs(t, name)); n != 1 {
		t.Errorf("CSRs for %s: %d, want the one resumed", name, n)
	}
}

// TestHubAdmitsAnonymousOnlyToClusterInfo: the hub lets an unauthenticated
// client read kube-public/cluster-info, so that an agent can prove the hub
// before it sends its token, and nothing else.
func TestHubAdmitsAnonymousOnlyToClusterInfo(t *testing.T) {
	framework.Require(t, env)
	createToken(t, "--ttl", "10m") // readies cluster-info and its reader Role
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(env.HubConfig.CAData) {
		t.Fatal("the hub's CA does not parse")
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for path, want := range map[string]int{
		"/api/v1/namespaces/kube-public/configmaps/cluster-info": http.StatusOK,
		"/api/v1/namespaces/kube-public/configmaps":              http.StatusUnauthorized,
		"/api/v1/namespaces/kube-system/configmaps/cluster-info": http.StatusUnauthorized,
		"/apis/cluster.flotilla.io/v1alpha1/clusters":            http.StatusUnauthorized,
		"/version": http.StatusUnauthorized,
	} {
		resp, err := c.Get(env.HubConfig.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("anonymous GET %s: %s, want %d", path, resp.Status, want)
		}
	}
}
