package member

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// Keys of a cluster credentials Secret.
const (
	SecretKeyToken  = "token"
	SecretKeyCACert = "ca.crt"
)

// Namespace is the namespace Flotilla owns on the hub and on each member.
const Namespace = "flotilla-system"

// ErrCredentials marks an unusable credentials Secret.
var ErrCredentials = errors.New("invalid cluster credentials")

// RESTConfig builds a client configuration for a Push cluster from its
// credentials Secret. TLS verification is always on: the Secret must carry
// the member's CA.
func RESTConfig(c *clusterv1alpha1.Cluster, s *corev1.Secret) (*rest.Config, error) {
	if c.Spec.APIEndpoint == "" {
		return nil, fmt.Errorf("%w: cluster %s has no spec.apiEndpoint", ErrCredentials, c.Name)
	}
	token := s.Data[SecretKeyToken]
	ca := s.Data[SecretKeyCACert]
	if len(token) == 0 {
		return nil, fmt.Errorf("%w: secret %s/%s has no %q key", ErrCredentials, s.Namespace, s.Name, SecretKeyToken)
	}
	if len(ca) == 0 {
		return nil, fmt.Errorf("%w: secret %s/%s has no %q key", ErrCredentials, s.Namespace, s.Name, SecretKeyCACert)
	}
	return &rest.Config{
		Host:            c.Spec.APIEndpoint,
		BearerToken:     string(token),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		UserAgent:       "flotilla-hub/" + c.Name,
		QPS:             50,
		Burst:           100,
		Timeout:         30 * time.Second,
	}, nil
}
