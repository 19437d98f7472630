package registration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// tokenSecret is a Flotilla bootstrap token Secret as `flotilla token
// create` writes it.
func tokenSecret(id string, expires time.Time, requireAccept bool) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: TokenSecretName(id), Namespace: TokenSecretNamespace},
		Type:       corev1.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			tokenIDKey: []byte(id), tokenSecretKey: []byte("0123456789abcdef"),
			tokenExpirationKey: []byte(expires.Format(time.RFC3339)),
			tokenUsageAuth:     []byte("true"), tokenUsageSigning: []byte("true"),
			tokenExtraGroupsKey: []byte(BootstrapGroup),
		},
	}
	if requireAccept {
		s.Annotations = map[string]string{AnnotationRequireAccept: "true"}
	}
	return s
}

// applied records what the approver applied, by kind and name: the fake
// client's server-side apply does not know RBAC's schema.
type applied map[string]map[string]any

func newTestApprover(t *testing.T, objs ...client.Object) (*Approver, client.Client, applied) {
	t.Helper()
	got := applied{}
	c := fake.NewClientBuilder().WithScheme(api.Scheme).WithObjects(objs...).
		WithStatusSubresource(&clusterv1alpha1.Cluster{}, &certificatesv1.CertificateSigningRequest{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Apply: func(_ context.Context, _ client.WithWatch, obj runtime.ApplyConfiguration, _ ...client.ApplyOption) error {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
				if err != nil {
					return err
				}
				md := m["metadata"].(map[string]any)
				key := m["kind"].(string) + "/" + md["name"].(string)
				if ns, ok := md["namespace"]; ok {
					key = m["kind"].(string) + "/" + ns.(string) + "/" + md["name"].(string)
				}
				got[key] = m
				return nil
			},
		}).Build()
	return NewApprover(c, c, events.NewFakeRecorder(100), WithClock(clocktesting.NewFakePassiveClock(testNow))), c, got
}

func reconcileCSR(t *testing.T, a *Approver, c client.Client, csr *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	if _, err := a.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(csr)}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	var out certificatesv1.CertificateSigningRequest
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(csr), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// decision returns the CSR's Approved or Denied condition, if any.
func decision(csr *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		return &csr.Status.Conditions[i]
	}
	return nil
}

func pullCluster(name, tokenID, registrationID string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Annotations: map[string]string{
			AnnotationTokenID: tokenID, AnnotationRegistrationID: registrationID,
		}},
		Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull},
	}
}

func TestApproverApprovesBootstrap(t *testing.T) {
	csr := makeCSR(t, "edge-1").Annotation(AnnotationLabels, `{"site":"shop-7"}`).Annotation(AnnotationRegion, "eu-west").Obj()
	a, c, got := newTestApprover(t, csr, tokenSecret("tok123", testNow.Add(time.Hour), false))
	out := reconcileCSR(t, a, c, csr)
	d := decision(out)
	if d == nil || d.Type != certificatesv1.CertificateApproved || d.Reason != ReasonRegistrationApproved {
		t.Fatalf("decision = %+v, want Approved", d)
	}
	var cl clusterv1alpha1.Cluster
	if err := c.Get(context.Background(), client.ObjectKey{Name: "edge-1"}, &cl); err != nil {
		t.Fatal(err)
	}
	want := clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Pull, Region: "eu-west"}
	if diff := cmp.Diff(want, cl.Spec); diff != "" {
		t.Errorf("cluster spec (-want +got):\n%s", diff)
	}
	if cl.Labels["site"] != "shop-7" || cl.Annotations[AnnotationTokenID] != "tok123" || cl.Annotations[AnnotationRegistrationID] != testRegistrationID {
		t.Errorf("cluster labels %v, annotations %v", cl.Labels, cl.Annotations)
	}
	if _, ok := cl.Annotations[AnnotationAcceptance]; ok {
		t.Errorf("cluster waits for acceptance, but the token needs none")
	}
	ns := ClusterNamespace("edge-1")
	wantApplied := []string{"Namespace/" + ns, "Role/" + ns + "/" + AgentRoleName, "RoleBinding/" + ns + "/" + AgentRoleName,
		"ClusterRole/flotilla:agent:edge-1", "ClusterRoleBinding/flotilla:agent:edge-1"}
	for _, k := range wantApplied {
		if got[k] == nil {
			t.Errorf("not applied: %s (applied: %v)", k, keys(got))
		}
	}
	// Bound to the registration's group, owned by the Cluster.
	crb := got["ClusterRoleBinding/flotilla:agent:edge-1"]
	subjects := crb["subjects"].([]any)
	if len(subjects) != 1 || subjects[0].(map[string]any)["name"] != RegistrationGroup(testRegistrationID) || subjects[0].(map[string]any)["kind"] != rbacv1.GroupKind {
		t.Errorf("clusterrolebinding subjects = %v", subjects)
	}
	owners := crb["metadata"].(map[string]any)["ownerReferences"].([]any)
	if len(owners) != 1 || owners[0].(map[string]any)["kind"] != "Cluster" || owners[0].(map[string]any)["name"] != "edge-1" {
		t.Errorf("clusterrolebinding owners = %v", owners)
	}
}

func keys(m applied) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestApproverDenies(t *testing.T) {
	valid := tokenSecret("tok123", testNow.Add(time.Hour), false)
	tests := map[string]struct {
		csr        *certificatesv1.CertificateSigningRequest
		objs       []client.Object
		wantReason string
		wantMsg    string
	}{
		"revoked token": {
			csr: makeCSR(t, "edge-1").Obj(), wantReason: ReasonInvalidToken, wantMsg: "no longer exists",
		},
		"expired token": {
			csr: makeCSR(t, "edge-1").Obj(), objs: []client.Object{tokenSecret("tok123", testNow.Add(-time.Second), false)},
			wantReason: ReasonInvalidToken, wantMsg: "expired at 2026-05-01T11:59:59Z",
		},
		"kubeadm's token": {
			csr: makeCSR(t, "edge-1").Obj(),
			objs: []client.Object{func() *corev1.Secret {
				s := tokenSecret("tok123", testNow.Add(time.Hour), false)
				s.Data[tokenExtraGroupsKey] = []byte("system:bootstrappers:kubeadm:default-node-token")
				return s
			}()},
			wantReason: ReasonInvalidToken, wantMsg: "not a Flotilla registration token",
		},
		"name of a Push cluster": {
			csr: makeCSR(t, "edge-1").Obj(),
			objs: []client.Object{valid, &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "edge-1"},
				Spec: clusterv1alpha1.ClusterSpec{SyncMode: clusterv1alpha1.Push}}},
			wantReason: ReasonNameTaken, wantMsg: "a Push cluster named edge-1",
		},
		"name of another registration": {
			csr: makeCSR(t, "edge-1").Obj(), objs: []client.Object{valid, pullCluster("edge-1", "other1", "zzzzz99999")},
			wantReason: ReasonNameTaken, wantMsg: "already registered by another agent",
		},
		"same registration, another token": {
			csr: makeCSR(t, "edge-1").Obj(), objs: []client.Object{valid, pullCluster("edge-1", "other1", testRegistrationID)},
			wantReason: ReasonNameTaken, wantMsg: "already registered by another agent",
		},
		"renewal of an unjoined cluster": {
			csr: makeCSR(t, "edge-1").Renewal("edge-1").Obj(), wantReason: ReasonNotRegistered, wantMsg: "not registered",
		},
		"renewal of an earlier registration": {
			csr: makeCSR(t, "edge-1").Renewal("edge-1").Obj(), objs: []client.Object{pullCluster("edge-1", "tok123", "zzzzz99999")},
			wantReason: ReasonNotRegistered, wantMsg: "no longer stands",
		},
		"a bad request": {
			csr: makeCSR(t, "edge-1").DNS("x").Obj(), objs: []client.Object{valid}, wantReason: ReasonInvalidRequest, wantMsg: "subject alternative names",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, c, got := newTestApprover(t, append(tc.objs, tc.csr)...)
			d := decision(reconcileCSR(t, a, c, tc.csr))
			if d == nil || d.Type != certificatesv1.CertificateDenied || d.Reason != tc.wantReason || !strings.Contains(d.Message, tc.wantMsg) {
				t.Fatalf("decision = %+v, want Denied %s with %q", d, tc.wantReason, tc.wantMsg)
			}
			if len(got) > 0 {
				t.Errorf("a denied request got RBAC: %v", keys(got))
			}
		})
	}
}

func TestApproverApprovesRenewal(t *testing.T) {
	csr := makeCSR(t, "edge-1").Renewal("edge-1").Obj()
	a, c, got := newTestApprover(t, csr, pullCluster("edge-1", "tok123", testRegistrationID))
	d := decision(reconcileCSR(t, a, c, csr))
	if d == nil || d.Type != certificatesv1.CertificateApproved || d.Reason != ReasonRenewalApproved {
		t.Fatalf("decision = %+v, want Approved", d)
	}
	if got["ClusterRoleBinding/flotilla:agent:edge-1"] == nil {
		t.Errorf("renewal did not repair the agent's RBAC: %v", keys(got))
	}
}

func TestApproverRetriesOnAgainAfterAFailedRegistration(t *testing.T) {
	// The same registration and token, sent again (register resumed): it
	// may have the name it already holds.
	csr := makeCSR(t, "edge-1").Obj()
	a, c, _ := newTestApprover(t, csr, tokenSecret("tok123", testNow.Add(time.Hour), false), pullCluster("edge-1", "tok123", testRegistrationID))
	if d := decision(reconcileCSR(t, a, c, csr)); d == nil || d.Type != certificatesv1.CertificateApproved {
		t.Fatalf("decision = %+v, want Approved", d)
	}
}

func TestApproverWaitsForAcceptance(t *testing.T) {
	csr := makeCSR(t, "edge-1").Obj()
	a, c, got := newTestApprover(t, csr, tokenSecret("tok123", testNow.Add(time.Hour), true))
	if d := decision(reconcileCSR(t, a, c, csr)); d != nil {
		t.Fatalf("decided before acceptance: %+v", d)
	}
	if len(got) > 0 {
		t.Errorf("RBAC before acceptance: %v", keys(got))
	}
	var cl clusterv1alpha1.Cluster
	if err := c.Get(context.Background(), client.ObjectKey{Name: "edge-1"}, &cl); err != nil {
		t.Fatal(err)
	}
	if cl.Annotations[AnnotationAcceptance] != AcceptancePending {
		t.Fatalf("cluster acceptance = %q, want Pending", cl.Annotations[AnnotationAcceptance])
	}
	// The approver's own renewals cannot skip acceptance either.
	renewal := makeCSR(t, "edge-1").Renewal("edge-1").Obj()
	if err := c.Create(context.Background(), renewal); err != nil {
		t.Fatal(err)
	}
	if d := decision(reconcileCSR(t, a, c, renewal)); d == nil || d.Type != certificatesv1.CertificateDenied {
		t.Errorf("renewal before acceptance: %+v, want Denied", d)
	}

	if err := Accept(context.Background(), c, "edge-1"); err != nil {
		t.Fatal(err)
	}
	if err := Accept(context.Background(), c, "edge-1"); err == nil || !strings.Contains(err.Error(), "already accepted") {
		t.Errorf("accepting twice: %v", err)
	}
	if d := decision(reconcileCSR(t, a, c, csr)); d == nil || d.Type != certificatesv1.CertificateApproved {
		t.Fatalf("decision after accept = %+v, want Approved", d)
	}
}

func TestReject(t *testing.T) {
	csr := makeCSR(t, "edge-1").Obj()
	a, c, _ := newTestApprover(t, csr, tokenSecret("tok123", testNow.Add(time.Hour), true))
	reconcileCSR(t, a, c, csr)
	if err := Reject(context.Background(), c, "edge-1"); err != nil {
		t.Fatal(err)
	}
	var out certificatesv1.CertificateSigningRequest
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(csr), &out); err != nil {
		t.Fatal(err)
	}
	if d := decision(&out); d == nil || d.Type != certificatesv1.CertificateDenied || d.Reason != ReasonRejected {
		t.Errorf("decision = %+v, want Denied by the administrator", d)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "edge-1"}, &clusterv1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster after reject: %v, want NotFound", err)
	}
	if err := Accept(context.Background(), c, "edge-1"); err == nil {
		t.Errorf("accepted a rejected registration")
	}
}

func TestApproverIgnoresOtherCSRs(t *testing.T) {
	csr := makeCSR(t, "edge-1").CN("system:node:n1").Obj()
	a, c, _ := newTestApprover(t, csr)
	if d := decision(reconcileCSR(t, a, c, csr)); d != nil {
		t.Errorf("decided a CSR that is not an agent's: %+v", d)
	}
}
