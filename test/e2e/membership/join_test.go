package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
	"github.com/flotilla-io/flotilla/internal/membership"
	"github.com/flotilla-io/flotilla/test/framework"
)

func join(t *testing.T, name, kubeconfig string, mutate ...func(*membership.JoinOptions)) (*clusterv1alpha1.Cluster, error) {
	t.Helper()
	o := membership.JoinOptions{Name: name, KubeconfigPath: kubeconfig, Timeout: 3 * time.Second,
		Labels: map[string]string{"environment": "test"}, Region: "region-a", Provider: "cloud-a"}
	for _, f := range mutate {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return membership.Join(ctx, env.Hub, o)
}

// assertNothingLeft checks that neither the hub nor the member keeps
// anything of a failed or undone join.
func assertNothingLeft(t *testing.T, name, memberName string) {
	t.Helper()
	ctx := context.Background()
	var c clusterv1alpha1.Cluster
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: name}, &c); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s on the hub: want NotFound, got %v", name, err)
	}
	var s corev1.Secret
	key := client.ObjectKey{Namespace: member.Namespace, Name: membership.CredentialsSecretName(name)}
	framework.Eventually(t, 30*time.Second, func() error {
		if err := env.Hub.Get(ctx, key, &s); !apierrors.IsNotFound(err) {
			return fmt.Errorf("secret %s on the hub: want NotFound, got %v", key, err)
		}
		return nil
	})
	if memberName == "" {
		return
	}
	mc := env.MemberClient(t, memberName)
	framework.Eventually(t, 60*time.Second, func() error {
		if _, err := mc.RbacV1().ClusterRoles().Get(ctx, membership.MemberClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("clusterrole %s in member: want NotFound, got %v", membership.MemberClusterRole, err)
		}
		if _, err := mc.RbacV1().ClusterRoleBindings().Get(ctx, membership.MemberClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("clusterrolebinding %s in member: want NotFound, got %v", membership.MemberClusterRole, err)
		}
		if _, err := mc.CoreV1().Namespaces().Get(ctx, member.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s in member: want NotFound, got %v", member.Namespace, err)
		}
		return nil
	})
}

func TestJoinThenUnjoin(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	m := env.Member("member-a")
	c, err := join(t, "member-a", m.Kubeconfig)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if c.Spec.SyncMode != clusterv1alpha1.Push || c.Spec.Region != "region-a" || c.Labels["environment"] != "test" {
		t.Errorf("unexpected cluster spec: %+v labels %v", c.Spec, c.Labels)
	}

	// The hub stores a token of Flotilla's own service account, not the
	// kubeconfig's admin certificate.
	var s corev1.Secret
	if err := env.Hub.Get(ctx, client.ObjectKey{Namespace: member.Namespace, Name: membership.CredentialsSecretName("member-a")}, &s); err != nil {
		t.Fatalf("credentials secret: %v", err)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != c.UID {
		t.Errorf("credentials secret should be owned by the cluster, owners: %+v", s.OwnerReferences)
	}
	mc := env.MemberClient(t, "member-a")
	review, err := mc.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: string(s.Data[member.SecretKeyToken])}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "system:serviceaccount:" + member.Namespace + ":" + membership.MemberServiceAccount
	if !review.Status.Authenticated || review.Status.User.Username != want {
		t.Errorf("stored token authenticates as %q (authenticated=%v), want %q", review.Status.User.Username, review.Status.Authenticated, want)
	}

	// The health controller takes the cluster Ready, with a summary.
	framework.Eventually(t, 60*time.Second, func() error { return clusterReady("member-a", true) })
	var got clusterv1alpha1.Cluster
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: "member-a"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.KubernetesVersion == "" {
		t.Errorf("no kubernetesVersion in status")
	}
	framework.Eventually(t, 60*time.Second, func() error {
		if err := env.Hub.Get(ctx, client.ObjectKey{Name: "member-a"}, &got); err != nil {
			return err
		}
		ns := got.Status.NodeSummary
		if ns == nil || ns.Total != 2 || ns.Ready != 2 {
			return fmt.Errorf("node summary %+v, want 2 total 2 ready", ns)
		}
		rs := got.Status.ResourceSummary
		if rs == nil || rs.Allocatable.Cpu().Value() != 16 {
			return fmt.Errorf("resource summary %+v, want 16 allocatable CPUs", rs)
		}
		return nil
	})

	// Joining the same name or the same endpoint again fails, and leaves
	// the first membership alone.
	_, err = join(t, "member-a", m.Kubeconfig)
	wantJoinError(t, err, membership.StepValidate, "already joined")
	_, err = join(t, "member-a-again", m.Kubeconfig)
	wantJoinError(t, err, membership.StepValidate, "already joined as cluster")

	warning, err := membership.Unjoin(ctx, env.Hub, "member-a", membership.UnjoinOptions{})
	if err != nil || warning != "" {
		t.Fatalf("unjoin: err=%v warning=%q", err, warning)
	}
	assertNothingLeft(t, "member-a", "member-a")

	_, err = membership.Unjoin(ctx, env.Hub, "member-a", membership.UnjoinOptions{})
	if err == nil || !strings.Contains(err.Error(), "not joined") {
		t.Errorf("second unjoin: want a 'not joined' error, got %v", err)
	}
}

func wantJoinError(t *testing.T, err error, step membership.Step, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("join succeeded; want failure at step %q", step)
	}
	if got := membership.StepOf(err); got != step {
		t.Errorf("join failed at step %q, want %q: %v", got, step, err)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Errorf("join error %q does not say %q", err, contains)
	}
	var je *membership.Error
	if errors.As(err, &je) && je.Fix == "" {
		t.Errorf("join error has no fix: %v", err)
	}
}

// writeKubeconfig writes a variant of member-b's kubeconfig.
func writeKubeconfig(t *testing.T, mutate func(*clientcmdapi.Config)) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(env.Member("member-b").Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	mutate(kc)
	path := filepath.Join(t.TempDir(), "kubeconfig.yaml")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func currentCluster(kc *clientcmdapi.Config) *clientcmdapi.Cluster {
	return kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster]
}

func currentUser(kc *clientcmdapi.Config) *clientcmdapi.AuthInfo {
	return kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
}

// limitedToken returns a token of a service account in member-b that may
// only read.
func limitedToken(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	mc := env.MemberClient(t, "member-b")
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: "default"}}
	if _, err := mc.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: "default"}},
	}
	if _, err := mc.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := mc.CoreV1().ServiceAccounts("default").CreateToken(ctx, "viewer", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func TestJoinRejectsBadInput(t *testing.T) {
	framework.Require(t, env)
	good := env.Member("member-b").Kubeconfig
	notYAML := filepath.Join(t.TempDir(), "garbage.yaml")
	if err := os.WriteFile(notYAML, []byte("{this is: [not a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	closedPort := fmt.Sprintf("https://127.0.0.1:%d", mustFreePort(t))

	cases := map[string]struct {
		name       string
		kubeconfig func(t *testing.T) string
		mutate     func(*membership.JoinOptions)
		step       membership.Step
		says       string
	}{
		"invalid name": {
			name: "Member_B", kubeconfig: func(*testing.T) string { return good },
			step: membership.StepValidate, says: "invalid cluster name",
		},
		"name too long": {
			name: strings.Repeat("a", 49), kubeconfig: func(*testing.T) string { return good },
			step: membership.StepValidate, says: "no more than 48",
		},
		"invalid label": {
			name: "member-b", kubeconfig: func(*testing.T) string { return good },
			mutate: func(o *membership.JoinOptions) { o.Labels = map[string]string{"bad key!": "x"} },
			step:   membership.StepValidate, says: "invalid label key",
		},
		"missing kubeconfig file": {
			name: "member-b", kubeconfig: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.yaml") },
			step: membership.StepKubeconfig, says: "cannot read kubeconfig",
		},
		"malformed kubeconfig": {
			name: "member-b", kubeconfig: func(*testing.T) string { return notYAML },
			step: membership.StepKubeconfig, says: "not a valid kubeconfig",
		},
		"unknown context": {
			name: "member-b", kubeconfig: func(*testing.T) string { return good },
			mutate: func(o *membership.JoinOptions) { o.Context = "no-such-context" },
			step:   membership.StepKubeconfig, says: `no context "no-such-context"`,
		},
		"TLS verification off": {
			name: "member-b",
			kubeconfig: func(t *testing.T) string {
				return writeKubeconfig(t, func(kc *clientcmdapi.Config) {
					c := currentCluster(kc)
					c.InsecureSkipTLSVerify, c.CertificateAuthorityData = true, nil
				})
			},
			step: membership.StepKubeconfig, says: "skips TLS verification",
		},
		"unreachable": {
			name: "member-b",
			kubeconfig: func(t *testing.T) string {
				return writeKubeconfig(t, func(kc *clientcmdapi.Config) { currentCluster(kc).Server = closedPort })
			},
			step: membership.StepReach, says: "connection to " + closedPort + " refused",
		},
		"unauthorized": {
			name: "member-b",
			kubeconfig: func(t *testing.T) string {
				return writeKubeconfig(t, func(kc *clientcmdapi.Config) {
					u := currentUser(kc)
					u.ClientCertificateData, u.ClientKeyData, u.ClientCertificate, u.ClientKey = nil, nil, "", ""
					u.Token = "not-a-valid-token"
				})
			},
			step: membership.StepCredentials, says: "401 Unauthorized",
		},
		"missing permissions": {
			name: "member-b",
			kubeconfig: func(t *testing.T) string {
				tok := limitedToken(t)
				return writeKubeconfig(t, func(kc *clientcmdapi.Config) {
					u := currentUser(kc)
					u.ClientCertificateData, u.ClientKeyData, u.ClientCertificate, u.ClientKey = nil, nil, "", ""
					u.Token = tok
				})
			},
			step: membership.StepPermissions, says: "may not: create namespaces",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := join(t, tc.name, tc.kubeconfig(t), func(o *membership.JoinOptions) {
				if tc.mutate != nil {
					tc.mutate(o)
				}
			})
			wantJoinError(t, err, tc.step, tc.says)
			assertNothingLeft(t, tc.name, "member-b")
		})
	}
}

func mustFreePort(t *testing.T) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestJoinRollsBackAfterPartialWrites fails a join after it has created
// Flotilla's identity in the member: the hub refuses the credentials
// Secret because a stale one exists. Everything the join wrote must go.
func TestJoinRollsBackAfterPartialWrites(t *testing.T) {
	framework.Require(t, env)
	ctx := context.Background()
	const name = "rollback-b"
	stale := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: member.Namespace, Name: membership.CredentialsSecretName(name)}}
	if err := env.Hub.Create(ctx, stale); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Hub.Delete(ctx, stale) })

	_, err := join(t, name, env.Member("member-b").Kubeconfig)
	wantJoinError(t, err, membership.StepRegister, "stale credentials secret")

	var c clusterv1alpha1.Cluster
	if err := env.Hub.Get(ctx, client.ObjectKey{Name: name}, &c); !apierrors.IsNotFound(err) {
		t.Errorf("cluster %s on the hub: want NotFound, got %v", name, err)
	}
	// The stale secret was not the join's to delete.
	if err := env.Hub.Get(ctx, client.ObjectKeyFromObject(stale), &corev1.Secret{}); err != nil {
		t.Errorf("the pre-existing secret is gone: %v", err)
	}
	mc := env.MemberClient(t, "member-b")
	framework.Eventually(t, 60*time.Second, func() error {
		if _, err := mc.RbacV1().ClusterRoles().Get(ctx, membership.MemberClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("clusterrole in member: want NotFound, got %v", err)
		}
		if _, err := mc.CoreV1().ServiceAccounts(member.Namespace).Get(ctx, membership.MemberServiceAccount, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("service account in member: want NotFound, got %v", err)
		}
		return nil
	})
}

// TestDescribeShowsFailedJoin: a join that fails leaves the failed step on
// the hub, and `flotilla describe cluster` says what it was and the fix.
func TestDescribeShowsFailedJoin(t *testing.T) {
	framework.Require(t, env)
	kc := writeKubeconfig(t, func(kc *clientcmdapi.Config) {
		u := currentUser(kc)
		u.ClientCertificateData, u.ClientKeyData, u.ClientCertificate, u.ClientKey = nil, nil, "", ""
		u.Token = "not-a-valid-token"
	})
	out, err := env.Flotilla(t, "join", "member-refused", "--cluster-kubeconfig", kc)
	if err == nil {
		t.Fatalf("join with a bad token succeeded:\n%s", out)
	}
	if strings.Contains(out, "could not record") {
		t.Fatalf("join did not record its failure:\n%s", out)
	}
	out, err = env.Flotilla(t, "describe", "cluster", "member-refused")
	if err == nil {
		t.Fatalf("describe of a cluster that is not joined succeeded:\n%s", out)
	}
	for _, want := range []string{`cluster "member-refused" is not joined`, `failed at step "credentials"`, "401 Unauthorized", "fix: refresh the credentials"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe does not say %q:\n%s", want, out)
		}
	}
}
