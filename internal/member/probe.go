package member

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// ProbeResult is what one probe of a member's API server found.
type ProbeResult struct {
	// Reachable is true when the probe got any answer over the network.
	Reachable bool
	// Healthy is true when /readyz answered ok with the hub's credentials.
	Healthy bool
	// Reason is a condition reason from the cluster API: Healthy,
	// Unreachable, TLSFailed, Unauthorized or Unhealthy.
	Reason string
	// Message explains the reason for a person.
	Message string
	// Version is the API server's gitVersion, when known.
	Version string
	// Latency is how long the probe took.
	Latency time.Duration
}

// Probe checks a member's API server: /readyz, then /version.
func Probe(ctx context.Context, cfg *rest.Config, timeout time.Duration) ProbeResult {
	c := rest.CopyConfig(cfg)
	c.Timeout = timeout
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return ProbeResult{Reason: clusterv1alpha1.ReasonCredentialsInvalid, Message: err.Error()}
	}
	start := time.Now()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	res := ProbeResult{Latency: time.Since(start)}
	if err != nil {
		res.Reachable, res.Reason, res.Message = Classify(err, cfg.Host)
		if res.Reason == clusterv1alpha1.ReasonUnhealthy && len(body) > 0 {
			res.Message = fmt.Sprintf("%s: %s", res.Message, lastLines(string(body), 5))
		}
		return res
	}
	res.Reachable, res.Healthy = true, true
	res.Reason, res.Message = clusterv1alpha1.ReasonHealthy, "the API server answers /readyz with ok"
	if v, err := cs.Discovery().ServerVersion(); err == nil {
		res.Version = v.GitVersion
	}
	return res
}

// Reason values for TLS failures, in addition to the cluster API's reasons.
const ReasonTLSFailed = "TLSFailed"

// Classify turns an error from talking to a member into whether the member
// was reached, a condition reason, and a message that says what to fix.
func Classify(err error, host string) (reachable bool, reason, message string) {
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	switch {
	case errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr),
		strings.Contains(err.Error(), "x509:"), strings.Contains(err.Error(), "tls:"):
		return true, ReasonTLSFailed, fmt.Sprintf("TLS with %s failed: %v; the CA certificate stored for this cluster does not match its serving certificate", host, trimErr(err))
	case apierrors.IsUnauthorized(err):
		return true, clusterv1alpha1.ReasonUnauthorized, fmt.Sprintf("%s rejected the hub's credentials (401 Unauthorized): the token is invalid, expired or revoked; join the cluster again to renew it", host)
	case apierrors.IsForbidden(err):
		return true, clusterv1alpha1.ReasonUnauthorized, fmt.Sprintf("%s refused the hub's identity (403 Forbidden): %v", host, trimErr(err))
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		if code == http.StatusInternalServerError || code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
			return true, clusterv1alpha1.ReasonUnhealthy, fmt.Sprintf("%s is not ready (HTTP %d)", host, code)
		}
		return true, clusterv1alpha1.ReasonUnhealthy, fmt.Sprintf("%s answered HTTP %d: %v", host, code, trimErr(err))
	}
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return false, clusterv1alpha1.ReasonUnreachable, fmt.Sprintf("no answer from %s before the probe timed out; check that the API server runs and that the network path from the hub is open", host)
	case strings.Contains(err.Error(), "connection refused"):
		return false, clusterv1alpha1.ReasonUnreachable, fmt.Sprintf("connection to %s refused: nothing listens there; check that the cluster's API server runs", host)
	case strings.Contains(err.Error(), "no such host"):
		return false, clusterv1alpha1.ReasonUnreachable, fmt.Sprintf("cannot resolve the host of %s; check the endpoint's name and the hub's DNS", host)
	}
	return false, clusterv1alpha1.ReasonUnreachable, fmt.Sprintf("cannot reach %s: %v", host, trimErr(err))
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var failed []string
	for _, l := range lines {
		if strings.Contains(l, "failed") {
			failed = append(failed, strings.TrimSpace(l))
		}
	}
	if len(failed) > 0 {
		lines = failed
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
