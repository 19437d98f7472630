package registration

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// Identities of agents and of registrations.
const (
	// AgentUserPrefix followed by the cluster name is the user (the common
	// name) of an agent's client certificate.
	AgentUserPrefix = "system:flotilla:agent:"
	// AgentsGroup is the organization of every agent certificate. RBAC
	// grants it nothing.
	AgentsGroup = "system:flotilla:agents"
	// RegistrationGroupPrefix followed by the registration ID is the
	// organization that ties a certificate to one registration. The agent's
	// RBAC binds this group.
	RegistrationGroupPrefix = "system:flotilla:registration:"
	// BootstrapGroup is the extra group of Flotilla's bootstrap tokens. The
	// approver approves only requests from tokens that carry it.
	BootstrapGroup = "system:bootstrappers:flotilla"
	// BootstrapUserPrefix followed by the token ID is the user of a request
	// authenticated by a bootstrap token.
	BootstrapUserPrefix = "system:bootstrap:"
	// SignerName is the signer of agent certificates: the hub's
	// kube-controller-manager signs them with the hub CA.
	SignerName = certificatesv1.KubeAPIServerClientSignerName
)

// Certificate lifetimes. Kubernetes rejects expirationSeconds below 600.
const (
	MinCertLifetime     = 10 * time.Minute
	MaxCertLifetime     = 7 * 24 * time.Hour
	DefaultCertLifetime = 24 * time.Hour
)

// Annotations of the registration protocol.
const (
	// AnnotationLabels on a bootstrap CSR holds the labels (a JSON object)
	// the registrant asks for its Cluster.
	AnnotationLabels = "registration.flotilla.io/labels"
	// AnnotationRegion, AnnotationZone and AnnotationProvider on a
	// bootstrap CSR fill the Cluster's spec.
	AnnotationRegion   = "registration.flotilla.io/region"
	AnnotationZone     = "registration.flotilla.io/zone"
	AnnotationProvider = "registration.flotilla.io/provider"

	// AnnotationTokenID on a Pull Cluster records the bootstrap token that
	// registered it.
	AnnotationTokenID = "registration.flotilla.io/token-id"
	// AnnotationRegistrationID on a Pull Cluster records the registration
	// whose certificates the hub accepts for it.
	AnnotationRegistrationID = "registration.flotilla.io/registration-id"
	// AnnotationAcceptance on a Pull Cluster is AcceptancePending while the
	// registration waits for `flotilla accept`, then AcceptanceAccepted. A
	// cluster registered with a token that needs no acceptance has none.
	AnnotationAcceptance = "registration.flotilla.io/acceptance"
	// AnnotationRequireAccept ("true") on a bootstrap token Secret makes
	// registrations with that token wait for `flotilla accept`.
	AnnotationRequireAccept = "registration.flotilla.io/require-accept"
)

// Values of AnnotationAcceptance.
const (
	AcceptancePending  = "Pending"
	AcceptanceAccepted = "Accepted"
)

// Names of the agent's objects on the hub.
const (
	// AgentRoleName is the Role and RoleBinding in the cluster's namespace.
	AgentRoleName = "flotilla:agent"
	// BootstrapperRoleName is the ClusterRole and ClusterRoleBinding that
	// let bootstrap tokens create and read CSRs.
	BootstrapperRoleName = "flotilla:agent-bootstrapper"
	// ClusterInfoReaderRoleName is the Role and RoleBinding in kube-public
	// that let bootstrap tokens read cluster-info.
	ClusterInfoReaderRoleName = "flotilla:cluster-info-reader"
	// FieldManager is the server-side apply field manager of registration.
	FieldManager = "flotilla-registration"
)

// ClusterNamespace is the hub namespace of a cluster's work, lease and
// events: the only namespace its agent may read.
func ClusterNamespace(cluster string) string { return workv1alpha1.ClusterNamespace(cluster) }

// AgentUser is the user name of a cluster's agent.
func AgentUser(cluster string) string { return AgentUserPrefix + cluster }

// AgentClusterRoleName names the ClusterRole and ClusterRoleBinding that
// give an agent its own Cluster and its renewal CSR.
func AgentClusterRoleName(cluster string) string { return "flotilla:agent:" + cluster }

// RegistrationGroup is the group of one registration's certificates.
func RegistrationGroup(id string) string { return RegistrationGroupPrefix + id }

// BootstrapCSRName is the name of the CSR a registration sends: fixed per
// registration, so that a registrant that restarts finds its request again.
func BootstrapCSRName(cluster, registrationID string) string {
	return "flotilla-register-" + cluster + "-" + registrationID
}

// RenewalCSRName is the one CSR name an agent may read and delete: each
// renewal replaces the previous request.
func RenewalCSRName(cluster string) string { return "flotilla-renew-" + cluster }

// LeaseName is the name of a cluster's heartbeat Lease in its namespace.
func LeaseName(cluster string) string { return cluster }

// MaxClusterNameLength is the Cluster API's limit (the CRD's validation).
const MaxClusterNameLength = 48

// ValidateClusterName returns what is wrong with a cluster name, as the
// Cluster API would.
func ValidateClusterName(name string) error {
	errs := validation.IsDNS1123Label(name)
	if len(name) > MaxClusterNameLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", MaxClusterNameLength))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// registrationIDLength is the length of a registration ID.
const registrationIDLength = 10

var registrationIDPattern = regexp.MustCompile(`^[a-z0-9]{10}$`)

// NewRegistrationID returns a random registration ID.
func NewRegistrationID() (string, error) { return randomString(registrationIDLength) }

// ValidRegistrationID reports whether id has the form NewRegistrationID
// makes.
func ValidRegistrationID(id string) bool { return registrationIDPattern.MatchString(id) }

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n characters of idAlphabet, uniformly.
func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 252 = 7*36: rejecting the rest keeps the draw uniform.
			if b < 252 && len(out) < n {
				out = append(out, idAlphabet[int(b)%len(idAlphabet)])
			}
		}
	}
	return string(out), nil
}
