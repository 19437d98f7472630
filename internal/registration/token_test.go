package registration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

func TestParseToken(t *testing.T) {
	id, secret, err := ParseToken("abc123.0123456789abcdef")
	if err != nil || id != "abc123" || secret != "0123456789abcdef" {
		t.Errorf("ParseToken = %q %q %v", id, secret, err)
	}
	for _, bad := range []string{"abc123", "ABC123.0123456789abcdef", "abc123.0123456789abcde", "abc123:0123456789abcdef", ""} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	if id, err := ParseTokenID("abc123.0123456789abcdef"); err != nil || id != "abc123" {
		t.Errorf("ParseTokenID of a whole token = %q %v", id, err)
	}
	if _, err := ParseTokenID("abc"); err == nil {
		t.Errorf("ParseTokenID(abc) accepted")
	}
}

func TestCreateListRevokeToken(t *testing.T) {
	ctx := context.Background()
	kubeadm := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-kkkkkk", Namespace: TokenSecretNamespace},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{tokenIDKey: []byte("kkkkkk"), tokenSecretKey: []byte("0123456789abcdef"),
			tokenExtraGroupsKey: []byte("system:bootstrappers:kubeadm:default-node-token"), tokenUsageAuth: []byte("true")},
	}
	cs := fake.NewClientset(kubeadm)

	if _, _, err := CreateToken(ctx, cs, TokenOptions{}, testNow); err == nil || !strings.Contains(err.Error(), "--ttl must be positive") {
		t.Errorf("a token that never expires: %v", err)
	}
	tok, got, err := CreateToken(ctx, cs, TokenOptions{TTL: time.Hour, Description: "shop 7", RequireAccept: true}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := ParseToken(tok)
	if err != nil || id != got.ID {
		t.Fatalf("token %q, ID %q: %v", tok, got.ID, err)
	}
	s, err := cs.CoreV1().Secrets(TokenSecretNamespace).Get(ctx, TokenSecretName(id), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantData := map[string]string{
		"token-id": id, "token-secret": secret, "expiration": "2026-05-01T13:00:00Z", "description": "shop 7",
		"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true", "auth-extra-groups": BootstrapGroup,
	}
	if diff := cmp.Diff(wantData, s.StringData); diff != "" {
		t.Errorf("token secret data (-want +got):\n%s", diff)
	}
	if s.Type != corev1.SecretTypeBootstrapToken || s.Annotations[AnnotationRequireAccept] != "true" {
		t.Errorf("token secret type %q, annotations %v", s.Type, s.Annotations)
	}

	// The fake clientset does not turn stringData into data.
	s.Data = map[string][]byte{}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	if _, err := cs.CoreV1().Secrets(TokenSecretNamespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := ListTokens(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{{ID: id, Description: "shop 7", Expires: ptr(metav1.NewTime(testNow.Add(time.Hour))),
		Usages: []string{"authentication", "signing"}, ExtraGroups: []string{BootstrapGroup}, RequireAccept: true}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("ListTokens, which must leave kubeadm's token out (-want +got):\n%s", diff)
	}
	if !list[0].Expired(testNow.Add(time.Hour)) || list[0].Expired(testNow) {
		t.Errorf("Expired is wrong around %s", list[0].Expires)
	}

	if err := RevokeToken(ctx, cs, "kkkkkk"); err == nil || !strings.Contains(err.Error(), "not a Flotilla registration token") {
		t.Errorf("revoking kubeadm's token: %v", err)
	}
	if err := RevokeToken(ctx, cs, id); err != nil {
		t.Fatal(err)
	}
	if err := RevokeToken(ctx, cs, id); err == nil || !strings.Contains(err.Error(), "no bootstrap token") {
		t.Errorf("revoking twice: %v", err)
	}
}

func TestPrepareHub(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	hashes, err := PrepareHub(ctx, cs, "https://hub.example.com:6443", []byte(testCAPEM))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"sha256:1527be3779c92f142c3110a5e3a09e5729c58e3309c411bacbd8f0bad8925fa3"}, hashes); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}
	cm, err := cs.CoreV1().ConfigMaps(ClusterInfoNamespace).Get(ctx, ClusterInfoName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data[ClusterInfoKey]))
	if err != nil {
		t.Fatal(err)
	}
	if c := kc.Clusters[""]; c == nil || c.Server != "https://hub.example.com:6443" || string(c.CertificateAuthorityData) != testCAPEM {
		t.Errorf("cluster-info kubeconfig = %+v", kc.Clusters)
	}
	// An existing cluster-info is kept: its CA is the one agents will see.
	if _, err := PrepareHub(ctx, cs, "https://elsewhere:6443", nil); err != nil {
		t.Fatalf("PrepareHub with cluster-info present and no CA at hand: %v", err)
	}
	if _, err := PrepareHub(ctx, fake.NewClientset(), "https://hub:6443", nil); err == nil {
		t.Errorf("PrepareHub without a CA or a cluster-info succeeded")
	}
}

func TestNewRegistrationID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewRegistrationID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidRegistrationID(id) || seen[id] {
			t.Fatalf("NewRegistrationID = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
