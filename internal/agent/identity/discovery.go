package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-io/flotilla/internal/registration"
)

// ErrCAMismatch is returned when the hub's CA is not the pinned one.
var ErrCAMismatch = errors.New("the hub's CA does not match --ca-cert-hash; refusing to talk to it")

// ErrTokenRejected is returned when the hub does not accept the bootstrap
// token.
var ErrTokenRejected = errors.New("the hub rejected the bootstrap token")

// DiscoveryOptions say how to find and prove a hub.
type DiscoveryOptions struct {
	// HubURL is the hub's https URL.
	HubURL string
	// Token is the bootstrap token, "id.secret".
	Token string
	// CACertHashes are the accepted pins (sha256:<hex>) of the hub's CA.
	CACertHashes []string
	// SignatureWait bounds how long to wait for the hub to sign
	// cluster-info for the token (a token created a moment ago). Default
	// 30s.
	SignatureWait time.Duration
	// TokenBeforeProof lets discovery authenticate its first read of
	// cluster-info with the bootstrap token when the hub refuses anonymous
	// requests. The token then goes to a server not yet proven, where a
	// man in the middle could capture it. Off by default: the agent sends
	// nothing before the hub is proven.
	TokenBeforeProof bool
	// Progress receives one line per step; may be nil.
	Progress func(format string, args ...any)
}

const clusterInfoPath = "/api/v1/namespaces/" + registration.ClusterInfoNamespace + "/configmaps/" + registration.ClusterInfoName

// Discover fetches the hub's CA and proves it, kubeadm-style, before it
// trusts the hub with anything that matters:
//
//  1. It reads kube-public/cluster-info anonymously, without verifying the
//     hub's certificate. Where the hub refuses anonymous requests it stops,
//     unless TokenBeforeProof lets it authenticate with the bootstrap
//     token.
//  2. The ConfigMap must carry a signature of its kubeconfig made with the
//     token's secret (the hub's bootstrapsigner writes it): only the hub,
//     or someone who has the token, can make it.
//  3. The CA in that kubeconfig must hash to one of CACertHashes: only the
//     real hub has it.
//  4. It reads cluster-info again, now verifying the hub's certificate
//     against that CA, and requires the same content.
//
// It returns the CA bundle (PEM).
func Discover(ctx context.Context, o DiscoveryOptions) ([]byte, error) {
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(format, args...)
		}
	}
	id, secret, err := registration.ParseToken(o.Token)
	if err != nil {
		return nil, err
	}
	if len(o.CACertHashes) == 0 {
		return nil, errors.New("no --ca-cert-hash given: the agent trusts a hub only by its CA's hash, which `flotilla token create` prints")
	}
	pins := make([]string, 0, len(o.CACertHashes))
	for _, h := range o.CACertHashes {
		p, err := registration.NormalizeCACertHash(h)
		if err != nil {
			return nil, err
		}
		pins = append(pins, p)
	}
	hub, err := hubURL(o.HubURL)
	if err != nil {
		return nil, err
	}
	wait := o.SignatureWait
	if wait == 0 {
		wait = 30 * time.Second
	}

	say("discovering the hub at %s", hub)
	insecure := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // proven below by the JWS and the CA pin
	var kubeconfig, jws string
	deadline := time.Now().Add(wait)
	for {
		cm, err := fetchClusterInfo(ctx, hub, insecure, id, secret, o.TokenBeforeProof)
		if err != nil {
			return nil, err
		}
		kubeconfig = cm.Data[registration.ClusterInfoKey]
		jws = cm.Data[registration.JWSKeyPrefix+id]
		if kubeconfig == "" {
			return nil, fmt.Errorf("the hub's %s/%s has no %q key", registration.ClusterInfoNamespace, registration.ClusterInfoName, registration.ClusterInfoKey)
		}
		if jws != "" {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w %s: the hub has not signed %s/%s for it within %s: the token does not exist, has expired or was revoked; "+
				"ask the hub's administrator for a new one (`flotilla token create`), or check that the hub's kube-controller-manager runs the bootstrapsigner controller",
				ErrTokenRejected, id, registration.ClusterInfoNamespace, registration.ClusterInfoName, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if err := registration.VerifyDetachedJWS(jws, kubeconfig, id, secret); err != nil {
		return nil, fmt.Errorf("the hub's %s/%s is not signed with this token (%v); refusing to talk to it: a man in the middle, or not the hub the token is for",
			registration.ClusterInfoNamespace, registration.ClusterInfoName, err)
	}
	ca, _, err := registration.ClusterInfoCA([]byte(kubeconfig))
	if err != nil {
		return nil, err
	}
	certs, err := registration.ParseCertificates(ca)
	if err != nil {
		return nil, fmt.Errorf("the CA in the hub's cluster-info: %w", err)
	}
	var got []string
	for _, c := range certs {
		h := registration.CACertHash(c)
		if slices.Contains(pins, h) {
			say("the hub's CA matches --ca-cert-hash %s", h)
			return ca, verifySecure(ctx, hub, ca, id, secret, kubeconfig, o.TokenBeforeProof)
		}
		got = append(got, h)
	}
	return nil, fmt.Errorf("%w (the hub's CA hashes to %s)", ErrCAMismatch, strings.Join(got, ", "))
}

// verifySecure reads cluster-info again over a connection verified
// against the proven CA, and requires the same kubeconfig: the server must
// hold a certificate of that CA.
func verifySecure(ctx context.Context, hub *url.URL, ca []byte, id, secret, want string, withToken bool) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("the hub's CA does not parse")
	}
	cm, err := fetchClusterInfo(ctx, hub, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, id, secret, withToken)
	if err != nil {
		return fmt.Errorf("the hub's certificate does not verify with its proven CA: %w", err)
	}
	if cm.Data[registration.ClusterInfoKey] != want {
		return errors.New("the hub's cluster-info changed between two reads; try again")
	}
	return nil
}

// hubURL checks the hub's URL: https, with a host.
func hubURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("invalid --hub %q: want the hub's https URL, e.g. https://hub.example.com:6443", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// ErrAnonymousRefused is returned when the hub refuses anonymous reads of
// cluster-info and the token may not be sent before the hub is proven.
var ErrAnonymousRefused = errors.New("the hub refuses anonymous reads of kube-public/cluster-info, so it cannot be proven before the token is sent")

// fetchClusterInfo reads cluster-info anonymously and, if the hub refuses
// anonymous requests and withToken allows it, with the token.
func fetchClusterInfo(ctx context.Context, hub *url.URL, tlsConfig *tls.Config, id, secret string, withToken bool) (*corev1.ConfigMap, error) {
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second,
	}}
	defer c.CloseIdleConnections()
	cm, status, err := get(ctx, c, hub.String()+clusterInfoPath, "")
	if err == nil {
		return cm, nil
	}
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return nil, err
	}
	if !withToken {
		return nil, fmt.Errorf("%w (%v). Let the hub admit anonymous requests to that one path "+
			"(kube-apiserver --authentication-config with anonymous.conditions, see docs/pull-mode.md; a hub started by flotilla up does), "+
			"or pass --token-before-proof to send the token anyway", ErrAnonymousRefused, err)
	}
	cm, status, err = get(ctx, c, hub.String()+clusterInfoPath, id+"."+secret)
	switch {
	case err == nil:
		return cm, nil
	case status == http.StatusUnauthorized:
		return nil, fmt.Errorf("%w %s: it does not exist, has expired or was revoked; ask the hub's administrator for a new one (`flotilla token create`)", ErrTokenRejected, id)
	case status == http.StatusForbidden:
		return nil, fmt.Errorf("the hub does not let Flotilla's bootstrap tokens read %s/%s: run `flotilla token create` on the hub, which sets that up (%v)",
			registration.ClusterInfoNamespace, registration.ClusterInfoName, err)
	}
	return nil, err
}

// get GETs a ConfigMap, with a bearer token when one is given.
func get(ctx context.Context, c *http.Client, u, bearer string) (*corev1.ConfigMap, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "flotilla-register")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot reach the hub at %s: %w", strings.TrimSuffix(u, clusterInfoPath), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %s: %s", clusterInfoPath, resp.Status, bytes.TrimSpace(body))
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(body, &cm); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %w", clusterInfoPath, err)
	}
	return &cm, resp.StatusCode, nil
}
