package membership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/member"
)

// Names of what a join creates in the member.
const (
	MemberServiceAccount = "flotilla-hub"
	MemberClusterRole    = "flotilla:hub"
	MemberTokenSecret    = "flotilla-hub-token"
)

// MaxNameLength bounds cluster names: they become parts of namespace names.
const MaxNameLength = 48

// JoinOptions describe a cluster to join.
type JoinOptions struct {
	// Name of the cluster in the fleet.
	Name string
	// KubeconfigPath is a kubeconfig that reaches the member with enough
	// rights to create Flotilla's service account there.
	KubeconfigPath string
	// Context in the kubeconfig; empty means its current context.
	Context string
	Labels  map[string]string
	// Provider, Region and Zone describe where the member runs.
	Provider, Region, Zone string
	// Timeout bounds each network check. Default 10s.
	Timeout time.Duration
	// Progress receives one line per step; may be nil.
	Progress io.Writer
}

func (o *JoinOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// CredentialsSecretName is the name of the hub Secret holding a cluster's
// credentials, in the flotilla-system namespace.
func CredentialsSecretName(cluster string) string { return "cluster-" + cluster }

// Join joins a member in Push mode. hub must be a client for the hub with the
// Flotilla scheme.
func Join(ctx context.Context, hub client.Client, o JoinOptions) (*clusterv1alpha1.Cluster, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	fail := func(step Step, err error, problem, fix string) error {
		return &Error{Cluster: o.Name, Step: step, Problem: problem, Fix: fix, Err: err}
	}

	// 1. The name and labels.
	if errs := ValidateName(o.Name); len(errs) > 0 {
		return nil, fail(StepValidate, nil, fmt.Sprintf("invalid cluster name %q: %s", o.Name, strings.Join(errs, "; ")),
			"choose a name of lower-case letters, digits and '-', at most 48 characters, starting and ending with a letter or digit")
	}
	for k, v := range o.Labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fail(StepValidate, nil, fmt.Sprintf("invalid label key %q: %s", k, strings.Join(errs, "; ")), "use key=value with a valid Kubernetes label key")
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fail(StepValidate, nil, fmt.Sprintf("invalid value for label %q: %s", k, strings.Join(errs, "; ")), "use key=value with a valid Kubernetes label value")
		}
	}

	// 2. The kubeconfig.
	o.progress("checking kubeconfig %s", o.KubeconfigPath)
	cfg, endpoint, caData, err := loadKubeconfig(o.KubeconfigPath, o.Context)
	if err != nil {
		return nil, fail(StepKubeconfig, err, err.Error(), "pass --cluster-kubeconfig with a kubeconfig that reaches the member (and --cluster-context to pick a context)")
	}

	// 3. The hub: it serves the Cluster API and knows neither the name nor
	// the endpoint.
	o.progress("checking the hub")
	var existing clusterv1alpha1.ClusterList
	if err := hub.List(ctx, &existing); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, fail(StepHub, err, "the hub does not serve the cluster.flotilla.io API",
				"install Flotilla on the hub first (`flotilla install`, or `flotilla up` for a local fleet)")
		}
		return nil, fail(StepHub, err, "cannot list clusters on the hub: "+err.Error(), "check --kubeconfig/--context for the hub and that you may list clusters.cluster.flotilla.io")
	}
	for _, c := range existing.Items {
		if c.Name == o.Name {
			return nil, fail(StepValidate, nil, fmt.Sprintf("a cluster named %q is already joined (endpoint %s)", o.Name, c.Spec.APIEndpoint),
				fmt.Sprintf("choose another name, or run `flotilla unjoin %s` first", o.Name))
		}
		if c.Spec.APIEndpoint != "" && sameEndpoint(c.Spec.APIEndpoint, endpoint) {
			return nil, fail(StepValidate, nil, fmt.Sprintf("the endpoint %s is already joined as cluster %q", endpoint, c.Name),
				fmt.Sprintf("a cluster joins once; run `flotilla unjoin %s` first to join it under another name", c.Name))
		}
	}
	var ns corev1.Namespace
	if err := hub.Get(ctx, client.ObjectKey{Name: member.Namespace}, &ns); err != nil {
		return nil, fail(StepHub, err, fmt.Sprintf("the hub has no %s namespace: %v", member.Namespace, err), "install Flotilla on the hub first (`flotilla install`)")
	}

	// 4. The member answers, accepts the credentials, and grants what
	// joining needs.
	o.progress("checking that %s answers", endpoint)
	mcfg := rest.CopyConfig(cfg)
	mcfg.Timeout = o.Timeout
	mcs, err := kubernetes.NewForConfig(mcfg)
	if err != nil {
		return nil, fail(StepKubeconfig, err, err.Error(), "fix the kubeconfig")
	}
	if _, err := mcs.Discovery().ServerVersion(); err != nil {
		reachable, reason, msg := member.Classify(err, endpoint)
		switch {
		case !reachable:
			return nil, fail(StepReach, err, msg, "start the member's API server, or fix the server address in the kubeconfig")
		case reason == clusterv1alpha1.ReasonUnauthorized:
			return nil, fail(StepCredentials, err, msg, "refresh the credentials of the kubeconfig's user (the token or client certificate is invalid or expired)")
		case reason == member.ReasonTLSFailed:
			return nil, fail(StepReach, err, msg, "put the member's CA in the kubeconfig (certificate-authority-data)")
		default:
			return nil, fail(StepReach, err, msg, "check the member's API server health")
		}
	}
	// /version is public; a namespaces list proves the credentials.
	if _, err := mcs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		if apierrors.IsUnauthorized(err) {
			return nil, fail(StepCredentials, err, fmt.Sprintf("%s rejected the kubeconfig's credentials (401 Unauthorized)", endpoint),
				"refresh the credentials of the kubeconfig's user (the token or client certificate is invalid or expired)")
		}
		if !apierrors.IsForbidden(err) {
			_, _, msg := member.Classify(err, endpoint)
			return nil, fail(StepReach, err, msg, "check the member's API server")
		}
	}
	o.progress("checking permissions in the member")
	if missing, err := missingPermissions(ctx, mcs); err != nil {
		return nil, fail(StepPermissions, err, "cannot check permissions: "+err.Error(), "make sure the member serves SelfSubjectAccessReview")
	} else if len(missing) > 0 {
		return nil, fail(StepPermissions, nil, "the kubeconfig's user may not: "+strings.Join(missing, ", "),
			"use a kubeconfig with cluster-admin rights for the join; Flotilla then works through its own service account")
	}

	// 5. Writes, rolled back on any failure from here on.
	var undo []func()
	rollback := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	o.progress("creating Flotilla's identity in the member")
	token, created, err := ensureMemberIdentity(ctx, mcs, o.Timeout*3)
	undo = append(undo, created...)
	if err != nil {
		rollback()
		return nil, fail(StepIdentity, err, "cannot create Flotilla's service account in the member: "+err.Error(), "check the member's API server and its token controller (kube-controller-manager)")
	}
	// Prove the new identity works before the hub relies on it.
	scfg := &rest.Config{Host: endpoint, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: caData}, Timeout: o.Timeout}
	scs, err := kubernetes.NewForConfig(scfg)
	if err == nil {
		_, err = scs.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
	}
	if err != nil {
		rollback()
		return nil, fail(StepIdentity, err, "Flotilla's new service account cannot read the member: "+err.Error(), "check the member's RBAC and token authentication")
	}

	o.progress("registering %s on the hub", o.Name)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      CredentialsSecretName(o.Name),
			Namespace: member.Namespace,
			Labels: map[string]string{
				clusterv1alpha1.LabelClusterName: o.Name,
				clusterv1alpha1.LabelManagedBy:   clusterv1alpha1.ManagedByValue,
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{member.SecretKeyToken: []byte(token), member.SecretKeyCACert: caData},
	}
	if err := hub.Create(ctx, secret); err != nil {
		rollback()
		if apierrors.IsAlreadyExists(err) {
			return nil, fail(StepRegister, err, fmt.Sprintf("a stale credentials secret %s/%s exists on the hub", secret.Namespace, secret.Name),
				fmt.Sprintf("run `flotilla unjoin %s` to clean up, then join again", o.Name))
		}
		return nil, fail(StepRegister, err, "cannot store the credentials on the hub: "+err.Error(), "check that you may create secrets in "+member.Namespace+" on the hub")
	}
	undo = append(undo, func() {
		_ = hub.Delete(context.Background(), secret)
	})
	labels := map[string]string{}
	for k, v := range o.Labels {
		labels[k] = v
	}
	cluster := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels},
		Spec: clusterv1alpha1.ClusterSpec{
			SyncMode:    clusterv1alpha1.Push,
			APIEndpoint: endpoint,
			SecretRef:   &clusterv1alpha1.SecretReference{Namespace: member.Namespace, Name: secret.Name},
			Provider:    o.Provider,
			Region:      o.Region,
			Zone:        o.Zone,
		},
	}
	if err := hub.Create(ctx, cluster); err != nil {
		rollback()
		return nil, fail(StepRegister, err, "the hub refused the Cluster: "+err.Error(), "fix the values the message names")
	}
	undo = append(undo, func() { _ = hub.Delete(context.Background(), cluster) })
	// The Secret belongs to the Cluster: the hub's garbage collector removes
	// it with the Cluster.
	patch := client.MergeFrom(secret.DeepCopy())
	secret.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: clusterv1alpha1.GroupVersion.String(), Kind: "Cluster", Name: cluster.Name, UID: cluster.UID,
	}}
	if err := hub.Patch(ctx, secret, patch); err != nil {
		rollback()
		return nil, fail(StepRegister, err, "cannot link the credentials to the Cluster: "+err.Error(), "check that you may patch secrets in "+member.Namespace+" on the hub")
	}
	o.progress("cluster %s joined", o.Name)
	return cluster, nil
}

// ValidateName returns what is wrong with a cluster name.
func ValidateName(name string) []string {
	errs := validation.IsDNS1123Label(name)
	if len(name) > MaxNameLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", MaxNameLength))
	}
	return errs
}

func sameEndpoint(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// loadKubeconfig reads a kubeconfig and returns its client configuration,
// API server URL and CA. It insists on https with a CA: Flotilla never
// skips TLS verification.
func loadKubeconfig(path, context string) (*rest.Config, string, []byte, error) {
	if path == "" {
		return nil, "", nil, errors.New("no kubeconfig given for the member")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", nil, fmt.Errorf("cannot read kubeconfig: %w", err)
	}
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s is not a valid kubeconfig: %w", path, err)
	}
	if context == "" {
		context = kc.CurrentContext
	}
	if context == "" {
		return nil, "", nil, fmt.Errorf("%s has no current-context; choose one of %s", path, contextNames(kc))
	}
	kctx, ok := kc.Contexts[context]
	if !ok {
		return nil, "", nil, fmt.Errorf("%s has no context %q; choose one of %s", path, context, contextNames(kc))
	}
	cl, ok := kc.Clusters[kctx.Cluster]
	if !ok {
		return nil, "", nil, fmt.Errorf("context %q names cluster %q, which %s does not define", context, kctx.Cluster, path)
	}
	if cl.InsecureSkipTLSVerify {
		return nil, "", nil, fmt.Errorf("cluster %q in %s skips TLS verification; Flotilla needs the member's CA to verify it", kctx.Cluster, path)
	}
	if !strings.HasPrefix(cl.Server, "https://") {
		return nil, "", nil, fmt.Errorf("the member's server %q is not https; Flotilla talks to members over TLS only", cl.Server)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*kc, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, "", nil, fmt.Errorf("context %q of %s: %w", context, path, err)
	}
	ca := cl.CertificateAuthorityData
	if len(ca) == 0 && cl.CertificateAuthority != "" {
		if ca, err = os.ReadFile(cl.CertificateAuthority); err != nil {
			return nil, "", nil, fmt.Errorf("cannot read the CA file of cluster %q: %w", kctx.Cluster, err)
		}
	}
	if len(ca) == 0 {
		return nil, "", nil, fmt.Errorf("cluster %q in %s has no certificate-authority(-data); Flotilla needs the member's CA", kctx.Cluster, path)
	}
	return cfg, cl.Server, ca, nil
}

func contextNames(kc *clientcmdapi.Config) string {
	var names []string
	for n := range kc.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "(it defines none)"
	}
	return strings.Join(names, ", ")
}

// required lists what joining and then running a member need of the
// joining user.
var required = []authorizationv1.ResourceAttributes{
	{Verb: "create", Resource: "namespaces"},
	{Verb: "create", Resource: "serviceaccounts", Namespace: member.Namespace},
	{Verb: "create", Resource: "secrets", Namespace: member.Namespace},
	{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
	// Granting a role needs the rights it grants (RBAC escalation check).
	{Verb: "*", Group: "*", Resource: "*"},
}

func missingPermissions(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	var missing []string
	for _, ra := range required {
		ra := ra
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &ra},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		if !r.Status.Allowed {
			what := ra.Verb + " " + ra.Resource
			if ra.Group != "" && ra.Group != "*" {
				what += "." + ra.Group
			}
			if ra.Group == "*" {
				what = "everything (verb *, resource *)"
			}
			if ra.Namespace != "" {
				what += " in " + ra.Namespace
			}
			missing = append(missing, what)
		}
	}
	return missing, nil
}

// ensureMemberIdentity creates Flotilla's namespace, service account, role,
// binding and long-lived token in the member, and returns the token and
// undo functions for what it created.
func ensureMemberIdentity(ctx context.Context, cs kubernetes.Interface, tokenWait time.Duration) (string, []func(), error) {
	var undo []func()
	bg := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: MemberClusterRole, Labels: managedLabels()},
		// Propagation applies any kind, so the hub's identity in a member
		// needs every verb on every resource. It is still a dedicated,
		// revocable identity rather than the joining user's credentials.
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{NonResourceURLs: []string{"*"}, Verbs: []string{"get"}},
		},
	}
	role, created, err := createOrGet(ctx, role, cs.RbacV1().ClusterRoles().Create, cs.RbacV1().ClusterRoles().Get)
	if err != nil {
		return "", undo, err
	}
	if created {
		undo = append(undo, func() { _ = cs.RbacV1().ClusterRoles().Delete(bg, MemberClusterRole, metav1.DeleteOptions{}) })
	}
	owned := []metav1.OwnerReference{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: role.Name, UID: role.UID}}
	// The namespace and the binding belong to the role, so that deleting the
	// role, one call that unjoin makes with the hub's own identity, removes
	// all three through the member's garbage collector. A namespace that
	// existed before is left alone.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: member.Namespace, Labels: managedLabels(), OwnerReferences: owned}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err == nil {
		undo = append(undo, func() { _ = cs.CoreV1().Namespaces().Delete(bg, member.Namespace, metav1.DeleteOptions{}) })
	} else if !apierrors.IsAlreadyExists(err) {
		return "", undo, err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: MemberClusterRole, Labels: managedLabels(), OwnerReferences: owned},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: MemberClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: MemberServiceAccount, Namespace: member.Namespace}},
	}
	if _, created, err := createOrGet(ctx, binding, cs.RbacV1().ClusterRoleBindings().Create, cs.RbacV1().ClusterRoleBindings().Get); err != nil {
		return "", undo, err
	} else if created {
		undo = append(undo, func() { _ = cs.RbacV1().ClusterRoleBindings().Delete(bg, MemberClusterRole, metav1.DeleteOptions{}) })
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: MemberServiceAccount, Namespace: member.Namespace, Labels: managedLabels()}}
	if _, err := cs.CoreV1().ServiceAccounts(member.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err == nil {
		undo = append(undo, func() {
			_ = cs.CoreV1().ServiceAccounts(member.Namespace).Delete(bg, MemberServiceAccount, metav1.DeleteOptions{})
		})
	} else if !apierrors.IsAlreadyExists(err) {
		return "", undo, err
	}
	tok := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: MemberTokenSecret, Namespace: member.Namespace, Labels: managedLabels(),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: MemberServiceAccount},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if _, err := cs.CoreV1().Secrets(member.Namespace).Create(ctx, tok, metav1.CreateOptions{}); err == nil {
		undo = append(undo, func() {
			_ = cs.CoreV1().Secrets(member.Namespace).Delete(bg, MemberTokenSecret, metav1.DeleteOptions{})
		})
	} else if !apierrors.IsAlreadyExists(err) {
		return "", undo, err
	}
	deadline := time.Now().Add(tokenWait)
	for {
		s, err := cs.CoreV1().Secrets(member.Namespace).Get(ctx, MemberTokenSecret, metav1.GetOptions{})
		if err == nil && len(s.Data[corev1.ServiceAccountTokenKey]) > 0 {
			return string(s.Data[corev1.ServiceAccountTokenKey]), undo, nil
		}
		if time.Now().After(deadline) {
			return "", undo, fmt.Errorf("the member's token controller did not fill secret %s/%s within %s", member.Namespace, MemberTokenSecret, tokenWait)
		}
		select {
		case <-ctx.Done():
			return "", undo, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func managedLabels() map[string]string {
	return map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}
}

func createOrGet[T metav1.Object](ctx context.Context, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	get func(context.Context, string, metav1.GetOptions) (T, error)) (T, bool, error) {
	out, err := create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		out, err = get(ctx, obj.GetName(), metav1.GetOptions{})
		return out, false, err
	}
	return out, err == nil, err
}
