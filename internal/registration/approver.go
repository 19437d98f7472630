package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// Reasons of the Approved condition the approver writes.
const (
	ReasonRegistrationApproved = "FlotillaAgentRegistration"
	ReasonRenewalApproved      = "FlotillaAgentRenewal"
)

// Event reasons of registration.
const (
	EventRegistered         = "Registered"
	EventAwaitingAcceptance = "AwaitingAcceptance"
	EventCertificateRenewed = "CertificateRenewed"
	EventRegistrationDenied = "RegistrationDenied"
)

// IndexCSRCluster indexes agent CSRs by the cluster name they ask for.
const IndexCSRCluster = "registration.flotilla.io/cluster"

// errAwaitingAcceptance leaves a CSR pending until `flotilla accept`.
var errAwaitingAcceptance = errors.New("the registration waits for `flotilla accept`")

// Approver approves, or denies with the reason, the CSRs of Flotilla's
// agents: first certificates requested with a live Flotilla bootstrap
// token, and renewals requested with a current certificate of the same
// registration. Before it approves a first certificate it creates the Pull
// Cluster, the cluster's namespace and the agent's RBAC.
type Approver struct {
	client client.Client
	// reader reads what the hub does not cache: bootstrap token Secrets,
	// and a Cluster just created.
	reader   client.Reader
	recorder events.EventRecorder
	clock    clock.PassiveClock
}

// NewApprover returns an Approver. reader must read live from the API
// server (the manager's APIReader).
func NewApprover(c client.Client, reader client.Reader, recorder events.EventRecorder, opts ...Option) *Approver {
	o := options{clock: clock.RealClock{}}
	for _, f := range opts {
		f(&o)
	}
	return &Approver{client: c, reader: reader, recorder: recorder, clock: o.clock}
}

// SetupWithManager registers the approver.
func (a *Approver) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &certificatesv1.CertificateSigningRequest{}, IndexCSRCluster,
		func(o client.Object) []string {
			if cluster, _ := agentCluster(o.(*certificatesv1.CertificateSigningRequest)); cluster != "" {
				return []string{cluster}
			}
			return nil
		})
	if err != nil {
		return err
	}
	pending := predicate.NewPredicateFuncs(func(o client.Object) bool {
		csr, ok := o.(*certificatesv1.CertificateSigningRequest)
		return ok && csr.Spec.SignerName == SignerName && !csrFinished(csr)
	})
	// A Cluster's acceptance brings its pending CSRs back.
	acceptance := predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetAnnotations()[AnnotationAcceptance] != e.ObjectNew.GetAnnotations()[AnnotationAcceptance]
		},
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("registration-approver").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(pending)).
		Watches(&clusterv1alpha1.Cluster{}, handler.EnqueueRequestsFromMapFunc(a.pendingCSRs), builder.WithPredicates(acceptance)).
		Complete(a)
}

// pendingCSRs lists the unfinished CSRs of a cluster.
func (a *Approver) pendingCSRs(ctx context.Context, o client.Object) []reconcile.Request {
	var l certificatesv1.CertificateSigningRequestList
	if err := a.client.List(ctx, &l, client.MatchingFields{IndexCSRCluster: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list the cluster's CSRs", "cluster", o.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range l.Items {
		if !csrFinished(&l.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: l.Items[i].Name}})
		}
	}
	return out
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=kubernetes.io/kube-apiserver-client,verbs=approve
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings;clusterroles;clusterrolebindings,verbs=get;create;patch
// +kubebuilder:rbac:groups=cluster.flotilla.io,resources=clusters,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=work.flotilla.io,resources=works,verbs=get;list;watch
// +kubebuilder:rbac:groups=work.flotilla.io,resources=works/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile approves or denies one CSR.
//
// The hub grants each agent rights it holds itself (leases, works, CSRs
// above), so that it needs neither the escalate nor the bind verb.
func (a *Approver) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var csr certificatesv1.CertificateSigningRequest
	if err := a.client.Get(ctx, req.NamespacedName, &csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if csrFinished(&csr) {
		return ctrl.Result{}, nil
	}
	r, err := ParseAgentCSR(&csr)
	if r == nil && err == nil {
		return ctrl.Result{}, nil
	}
	var cl *clusterv1alpha1.Cluster
	if err == nil {
		switch r.Kind {
		case KindBootstrap:
			cl, err = a.reviewBootstrap(ctx, &csr, r)
		case KindRenewal:
			cl, err = a.reviewRenewal(ctx, r)
		}
	}
	var d *DenyError
	switch {
	case errors.As(err, &d):
		return ctrl.Result{}, a.decide(ctx, &csr, certificatesv1.CertificateDenied, d.Reason, d.Message, nil)
	case errors.Is(err, errAwaitingAcceptance):
		ctrl.LoggerFrom(ctx).V(1).Info("registration waits for acceptance", "cluster", r.Cluster)
		return ctrl.Result{}, nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		// The namespace of an earlier registration of the name is still
		// going away: not an error, a wait.
		ctrl.LoggerFrom(ctx).V(1).Info("the cluster's namespace is still being deleted; waiting", "cluster", r.Cluster)
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	reason, msg := ReasonRegistrationApproved, fmt.Sprintf("registration %s of cluster %s with bootstrap token %s", r.RegistrationID, r.Cluster, r.TokenID)
	if r.Kind == KindRenewal {
		reason, msg = ReasonRenewalApproved, fmt.Sprintf("renewal for registration %s of cluster %s", r.RegistrationID, r.Cluster)
	}
	return ctrl.Result{}, a.decide(ctx, &csr, certificatesv1.CertificateApproved, reason, msg, cl)
}

// reviewBootstrap checks the token and the name, then readies the Cluster,
// its namespace and the agent's RBAC.
func (a *Approver) reviewBootstrap(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, r *Request) (*clusterv1alpha1.Cluster, error) {
	tok, err := a.token(ctx, r.TokenID)
	if err != nil {
		return nil, err
	}
	cl, err := a.clusterFor(ctx, csr, r, tok)
	if err != nil {
		return nil, err
	}
	if cl.Annotations[AnnotationAcceptance] == AcceptancePending {
		return nil, errAwaitingAcceptance
	}
	return cl, applyAgentRBAC(ctx, a.client, cl, r.RegistrationID)
}

// token returns a live Flotilla bootstrap token, or why there is none.
func (a *Approver) token(ctx context.Context, id string) (Token, error) {
	var s corev1.Secret
	err := a.reader.Get(ctx, client.ObjectKey{Namespace: TokenSecretNamespace, Name: TokenSecretName(id)}, &s)
	if apierrors.IsNotFound(err) {
		return Token{}, deny(ReasonInvalidToken, "bootstrap token %s no longer exists on the hub: it was revoked, or it expired; register with a new one (`flotilla token create` on the hub)", id)
	}
	if err != nil {
		return Token{}, fmt.Errorf("read bootstrap token %s: %w", id, err)
	}
	t, ok := TokenFromSecret(&s)
	switch {
	case !ok || !slices.Contains(t.ExtraGroups, BootstrapGroup):
		return Token{}, deny(ReasonInvalidToken, "bootstrap token %s is not a Flotilla registration token; create one with `flotilla token create`", id)
	case !slices.Contains(t.Usages, "authentication"):
		return Token{}, deny(ReasonInvalidToken, "bootstrap token %s is not usable for authentication", id)
	case t.Expired(a.clock.Now()):
		return Token{}, deny(ReasonInvalidToken, "bootstrap token %s expired at %s; register with a new one (`flotilla token create` on the hub)", id, t.Expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return t, nil
}

// clusterFor returns the Cluster of a first registration, creating it,
// and denies a name that another registration holds.
func (a *Approver) clusterFor(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, r *Request, tok Token) (*clusterv1alpha1.Cluster, error) {
	var cl clusterv1alpha1.Cluster
	err := a.client.Get(ctx, client.ObjectKey{Name: r.Cluster}, &cl)
	if apierrors.IsNotFound(err) {
		want, derr := newCluster(csr, r, tok)
		if derr != nil {
			return nil, derr
		}
		err = a.client.Create(ctx, want)
		switch {
		case err == nil:
			a.recorder.Eventf(want, csr, corev1.EventTypeNormal, EventRegistered, "Register",
				"registered by the agent of registration %s with bootstrap token %s", r.RegistrationID, r.TokenID)
			if tok.RequireAccept {
				a.recorder.Eventf(want, csr, corev1.EventTypeNormal, EventAwaitingAcceptance, "Register",
					"bootstrap token %s needs a second approval: run `flotilla accept %s` on the hub", r.TokenID, r.Cluster)
			}
			return want, nil
		case apierrors.IsInvalid(err):
			return nil, deny(ReasonInvalidRequest, "the hub rejects the Cluster this registration asks for: %v", err)
		case apierrors.IsAlreadyExists(err):
			// Another worker or a stale cache: judge the live object.
			err = a.reader.Get(ctx, client.ObjectKey{Name: r.Cluster}, &cl)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %s: %w", r.Cluster, err)
	}
	switch {
	case cl.Spec.SyncMode != clusterv1alpha1.Pull:
		return nil, deny(ReasonNameTaken, "a Push cluster named %s is already joined; register under another name, or unjoin it first", r.Cluster)
	case !cl.DeletionTimestamp.IsZero():
		return nil, deny(ReasonNameTaken, "cluster %s is being removed; register again once it is gone", r.Cluster)
	case cl.Annotations[AnnotationRegistrationID] != r.RegistrationID || cl.Annotations[AnnotationTokenID] != r.TokenID:
		return nil, deny(ReasonNameTaken, "cluster %s is already registered by another agent; to register it anew, unjoin it first (`flotilla unjoin %s`)", r.Cluster, r.Cluster)
	}
	return &cl, nil
}

// newCluster is the Pull Cluster a bootstrap CSR asks for.
func newCluster(csr *certificatesv1.CertificateSigningRequest, r *Request, tok Token) (*clusterv1alpha1.Cluster, error) {
	ann := csr.Annotations
	cl := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Cluster,
			Annotations: map[string]string{
				AnnotationTokenID:        r.TokenID,
				AnnotationRegistrationID: r.RegistrationID,
			},
		},
		Spec: clusterv1alpha1.ClusterSpec{
			SyncMode: clusterv1alpha1.Pull,
			Region:   ann[AnnotationRegion],
			Zone:     ann[AnnotationZone],
			Provider: ann[AnnotationProvider],
		},
	}
	if tok.RequireAccept {
		cl.Annotations[AnnotationAcceptance] = AcceptancePending
	}
	if s := ann[AnnotationLabels]; s != "" {
		if err := json.Unmarshal([]byte(s), &cl.Labels); err != nil {
			return nil, deny(ReasonInvalidRequest, "annotation %s is not a JSON object of labels: %v", AnnotationLabels, err)
		}
	}
	return cl, nil
}

// reviewRenewal checks that the registration still stands, and repairs
// its RBAC.
func (a *Approver) reviewRenewal(ctx context.Context, r *Request) (*clusterv1alpha1.Cluster, error) {
	var cl clusterv1alpha1.Cluster
	err := a.client.Get(ctx, client.ObjectKey{Name: r.Cluster}, &cl)
	if apierrors.IsNotFound(err) {
		return nil, deny(ReasonNotRegistered, "cluster %s is not registered on the hub (it was unjoined); register it again with a new token", r.Cluster)
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %s: %w", r.Cluster, err)
	}
	switch {
	case cl.Spec.SyncMode != clusterv1alpha1.Pull || !cl.DeletionTimestamp.IsZero() ||
		cl.Annotations[AnnotationRegistrationID] != r.RegistrationID:
		return nil, deny(ReasonNotRegistered, "registration %s of cluster %s no longer stands (the cluster was unjoined, or registered anew); register it again with a new token",
			r.RegistrationID, r.Cluster)
	case cl.Annotations[AnnotationAcceptance] == AcceptancePending:
		return nil, deny(ReasonNotAuthorized, "cluster %s is not accepted yet", r.Cluster)
	}
	return &cl, applyAgentRBAC(ctx, a.client, &cl, r.RegistrationID)
}

// decide writes the Approved or Denied condition, and an event.
func (a *Approver) decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType, reason, msg string, cl *clusterv1alpha1.Cluster) error {
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(a.clock.Now()),
	})
	if err := a.client.SubResource("approval").Update(ctx, csr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s CSR %s: %w", t, csr.Name, err)
	}
	log := ctrl.LoggerFrom(ctx)
	if t == certificatesv1.CertificateDenied {
		log.Info("denied agent certificate", "csr", csr.Name, "reason", reason, "message", msg)
		a.recorder.Eventf(csr, nil, corev1.EventTypeWarning, EventRegistrationDenied, "Review", "%s", msg)
		return nil
	}
	log.Info("approved agent certificate", "csr", csr.Name, "reason", reason)
	if cl != nil && reason == ReasonRenewalApproved {
		a.recorder.Eventf(cl, csr, corev1.EventTypeNormal, EventCertificateRenewed, "Review", "approved %s", msg)
	}
	return nil
}
