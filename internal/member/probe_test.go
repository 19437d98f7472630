package member

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Resource: "namespaces"}
	cases := map[string]struct {
		err       error
		reachable bool
		reason    string
	}{
		"refused":      {fmt.Errorf("Get x: dial tcp 127.0.0.1:1: connect: connection refused"), false, clusterv1alpha1.ReasonUnreachable},
		"timeout":      {fmt.Errorf("wrapped: %w", context.DeadlineExceeded), false, clusterv1alpha1.ReasonUnreachable},
		"unauthorized": {apierrors.NewUnauthorized("no"), true, clusterv1alpha1.ReasonUnauthorized},
		"forbidden":    {apierrors.NewForbidden(gr, "", errors.New("no")), true, clusterv1alpha1.ReasonUnauthorized},
		"unavailable":  {apierrors.NewServiceUnavailable("etcd"), true, clusterv1alpha1.ReasonUnhealthy},
		"tls":          {errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), true, ReasonTLSFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reachable, reason, msg := Classify(tc.err, "https://m:6443")
			if reachable != tc.reachable || reason != tc.reason {
				t.Errorf("Classify = (%v, %q), want (%v, %q)", reachable, reason, tc.reachable, tc.reason)
			}
			if msg == "" {
				t.Error("no message")
			}
		})
	}
}
