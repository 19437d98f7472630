package registration

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// cluster-info, the public ConfigMap that kubeadm-style discovery reads
// (k8s.io/cluster-bootstrap/token/api).
const (
	ClusterInfoNamespace = metav1.NamespacePublic
	ClusterInfoName      = "cluster-info"
	ClusterInfoKey       = "kubeconfig"
	// JWSKeyPrefix followed by a token ID is the key of the token's
	// signature of ClusterInfoKey, written by the bootstrapsigner.
	JWSKeyPrefix = "jws-kubeconfig-"
)

// ClusterInfoCA returns the CA bundle of a cluster-info kubeconfig: the
// certificate-authority-data of its one cluster.
func ClusterInfoCA(kubeconfig []byte) ([]byte, string, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, "", fmt.Errorf("parse the cluster-info kubeconfig: %w", err)
	}
	if len(cfg.Clusters) != 1 {
		return nil, "", fmt.Errorf("the cluster-info kubeconfig has %d clusters, want exactly one", len(cfg.Clusters))
	}
	for _, c := range cfg.Clusters {
		if len(c.CertificateAuthorityData) == 0 {
			return nil, "", errors.New("the cluster-info kubeconfig carries no certificate-authority-data")
		}
		return c.CertificateAuthorityData, c.Server, nil
	}
	panic("unreachable")
}

// PrepareHub makes the hub ready for registrations, as kubeadm's init
// does: the kube-public/cluster-info ConfigMap (created with server and
// caPEM when missing: an existing one is kept), and the RBAC that lets
// Flotilla's bootstrap tokens read it and send CSRs. It returns the
// --ca-cert-hash of every CA in cluster-info.
func PrepareHub(ctx context.Context, cs kubernetes.Interface, server string, caPEM []byte) ([]string, error) {
	cm, err := cs.CoreV1().ConfigMaps(ClusterInfoNamespace).Get(ctx, ClusterInfoName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if len(caPEM) == 0 {
			return nil, errors.New("the hub kubeconfig carries no CA certificate, and the hub has no kube-public/cluster-info to take one from")
		}
		kc := clientcmdapi.NewConfig()
		kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
		b, werr := clientcmd.Write(*kc)
		if werr != nil {
			return nil, werr
		}
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoName, Namespace: ClusterInfoNamespace,
				Labels: map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}},
			Data: map[string]string{ClusterInfoKey: string(b)},
		}
		cm, err = cs.CoreV1().ConfigMaps(ClusterInfoNamespace).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cm, err = cs.CoreV1().ConfigMaps(ClusterInfoNamespace).Get(ctx, ClusterInfoName, metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kube-public/cluster-info: %w", err)
	}
	ca, _, err := ClusterInfoCA([]byte(cm.Data[ClusterInfoKey]))
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(ca)
	if err != nil {
		return nil, fmt.Errorf("the CA in kube-public/cluster-info: %w", err)
	}
	hashes := make([]string, 0, len(certs))
	for _, c := range certs {
		hashes = append(hashes, CACertHash(c))
	}
	if err := applyBootstrapRBAC(ctx, cs); err != nil {
		return nil, err
	}
	return hashes, nil
}

// applyBootstrapRBAC lets the holders of Flotilla's bootstrap tokens read
// cluster-info (anonymous users too, where the hub lets anonymous requests
// reach it, as kubeadm does) and create and read CSRs. Nothing else: they
// get their rights from the approved certificate.
func applyBootstrapRBAC(ctx context.Context, cs kubernetes.Interface) error {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	labels := map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}
	rbacGroup := rbacv1.GroupName
	if _, err := cs.RbacV1().Roles(ClusterInfoNamespace).Apply(ctx, rbacv1ac.Role(ClusterInfoReaderRoleName, ClusterInfoNamespace).
		WithLabels(labels).
		WithRules(rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("configmaps").
			WithResourceNames(ClusterInfoName).WithVerbs("get")), opts); err != nil {
		return fmt.Errorf("role %s/%s: %w", ClusterInfoNamespace, ClusterInfoReaderRoleName, err)
	}
	if _, err := cs.RbacV1().RoleBindings(ClusterInfoNamespace).Apply(ctx, rbacv1ac.RoleBinding(ClusterInfoReaderRoleName, ClusterInfoNamespace).
		WithLabels(labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacGroup).WithKind("Role").WithName(ClusterInfoReaderRoleName)).
		WithSubjects(
			rbacv1ac.Subject().WithKind(rbacv1.GroupKind).WithAPIGroup(rbacGroup).WithName(BootstrapGroup),
			rbacv1ac.Subject().WithKind(rbacv1.UserKind).WithAPIGroup(rbacGroup).WithName("system:anonymous"),
		), opts); err != nil {
		return fmt.Errorf("rolebinding %s/%s: %w", ClusterInfoNamespace, ClusterInfoReaderRoleName, err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, rbacv1ac.ClusterRole(BootstrapperRoleName).
		WithLabels(labels).
		WithRules(rbacv1ac.PolicyRule().WithAPIGroups(certificatesv1.GroupName).WithResources("certificatesigningrequests").
			WithVerbs("create", "get", "list", "watch")), opts); err != nil {
		return fmt.Errorf("clusterrole %s: %w", BootstrapperRoleName, err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, rbacv1ac.ClusterRoleBinding(BootstrapperRoleName).
		WithLabels(labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacGroup).WithKind("ClusterRole").WithName(BootstrapperRoleName)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.GroupKind).WithAPIGroup(rbacGroup).WithName(BootstrapGroup)), opts); err != nil {
		return fmt.Errorf("clusterrolebinding %s: %w", BootstrapperRoleName, err)
	}
	return nil
}

// WaitSigned waits until the hub's bootstrapsigner has signed cluster-info
// for the token, so that the join command works as soon as it is printed.
func WaitSigned(ctx context.Context, cs kubernetes.Interface, tokenID string, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cm, err := cs.CoreV1().ConfigMaps(ClusterInfoNamespace).Get(ctx, ClusterInfoName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		_, ok := cm.Data[JWSKeyPrefix+tokenID]
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("the hub has not signed kube-public/cluster-info for token %s within %s: "+
			"does the hub's kube-controller-manager run the bootstrapsigner controller?", tokenID, timeout)
	}
	return nil
}
