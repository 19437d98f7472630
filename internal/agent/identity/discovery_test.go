package identity

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flotilla-io/flotilla/internal/registration"
)

const (
	testTokenID     = "abc123"
	testTokenSecret = "0123456789abcdef"
	testToken       = testTokenID + "." + testTokenSecret
)

// fakeHub serves kube-public/cluster-info the way a hub does.
type fakeHub struct {
	srv *httptest.Server
	// anonymous lets requests without credentials read cluster-info.
	anonymous bool
	// rejectToken answers 401 to the token.
	rejectToken bool
	// caPEM is the CA that cluster-info carries; default the server's own.
	caPEM []byte
	// signWith signs cluster-info with this secret; "" leaves it unsigned.
	signWith string
	// tokenRequests counts the requests that carried the token.
	tokenRequests atomic.Int32
}

func newFakeHub(t *testing.T, configure func(*fakeHub)) *fakeHub {
	h := &fakeHub{signWith: testTokenSecret}
	configure(h)
	h.srv = httptest.NewTLSServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	if h.caPEM == nil {
		h.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})
	}
	return h
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != clusterInfoPath {
		http.NotFound(w, r)
		return
	}
	switch auth := r.Header.Get("Authorization"); {
	case auth == "" && !h.anonymous:
		http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
		return
	case auth != "":
		h.tokenRequests.Add(1)
		if auth != "Bearer "+testToken || h.rejectToken {
			http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
			return
		}
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: h.srv.URL, CertificateAuthorityData: h.caPEM}
	b, _ := clientcmd.Write(*kc)
	cm := corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"},
		Data: map[string]string{registration.ClusterInfoKey: string(b)}}
	if h.signWith != "" {
		cm.Data[registration.JWSKeyPrefix+testTokenID] = registration.SignDetachedJWS(string(b), testTokenID, h.signWith)
	}
	_ = json.NewEncoder(w).Encode(cm)
}

// pin is the --ca-cert-hash of the fake hub's CA.
func (h *fakeHub) pin(t *testing.T) string {
	certs, err := registration.ParseCertificates(h.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return registration.CACertHash(certs[0])
}

func TestDiscover(t *testing.T) {
	otherPin := "sha256:" + strings.Repeat("ab", 32)
	tests := map[string]struct {
		hub       func(*fakeHub)
		pin       string // "" for the hub's own
		wantErr   string
		wantIs    error
		wantToken bool // whether the token may have been sent (only with TokenBeforeProof)
	}{
		"anonymous discovery, the token never sent": {hub: func(h *fakeHub) { h.anonymous = true }},
		"anonymous refused, the token is not sent": {
			hub: func(*fakeHub) {}, wantIs: ErrAnonymousRefused, wantErr: "--token-before-proof",
		},
		"discovery authenticated by the token, when allowed": {hub: func(*fakeHub) {}, wantToken: true},
		"a wrong pin, anonymous": {
			hub: func(h *fakeHub) { h.anonymous = true }, pin: otherPin,
			wantIs: ErrCAMismatch, wantErr: "the hub's CA hashes to sha256:",
		},
		"a wrong pin": {hub: func(*fakeHub) {}, pin: otherPin, wantIs: ErrCAMismatch, wantToken: true},
		"signed with another secret": {
			hub: func(h *fakeHub) { h.anonymous, h.signWith = true, "fedcba9876543210" }, wantErr: "is not signed with this token",
		},
		"not signed for the token": {
			hub: func(h *fakeHub) { h.anonymous, h.signWith = true, "" }, wantIs: ErrTokenRejected, wantErr: "has not signed",
		},
		"the token rejected": {
			hub: func(h *fakeHub) { h.rejectToken = true }, wantIs: ErrTokenRejected, wantErr: "has expired or was revoked", wantToken: true,
		},
		"a pinned CA that did not sign the server's certificate": {
			hub:       func(h *fakeHub) { h.anonymous, h.caPEM = true, []byte(otherCAPEM) },
			wantErr:   "does not verify with its proven CA",
			wantToken: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newFakeHub(t, tc.hub)
			pin := tc.pin
			if pin == "" {
				pin = h.pin(t)
			}
			ca, err := Discover(context.Background(), DiscoveryOptions{HubURL: h.srv.URL, Token: testToken,
				CACertHashes: []string{pin}, SignatureWait: 100 * time.Millisecond, TokenBeforeProof: tc.wantToken})
			if tc.wantErr == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatalf("Discover: %v", err)
				}
				if string(ca) != string(h.caPEM) {
					t.Errorf("Discover returned another CA")
				}
			} else {
				if err == nil || (tc.wantIs != nil && !errors.Is(err, tc.wantIs)) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Discover error = %v, want %v with %q", err, tc.wantIs, tc.wantErr)
				}
			}
			if n := h.tokenRequests.Load(); n > 0 && !tc.wantToken {
				t.Errorf("the token was sent %d times", n)
			}
		})
	}
}

func TestDiscoverRejectsBadInput(t *testing.T) {
	for name, o := range map[string]DiscoveryOptions{
		"plain http": {HubURL: "http://hub:6443", Token: testToken, CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)}},
		"no pin":     {HubURL: "https://hub:6443", Token: testToken},
		"bad pin":    {HubURL: "https://hub:6443", Token: testToken, CACertHashes: []string{"md5:00"}},
		"bad token":  {HubURL: "https://hub:6443", Token: "nope", CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)}},
	} {
		if _, err := Discover(context.Background(), o); err == nil {
			t.Errorf("%s: Discover succeeded", name)
		}
	}
}

// otherCAPEM is a CA that signed nothing here.
const otherCAPEM = `-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUDP+J9kuC/B/pNFDZzxZjgpEpGlkwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZmxvdGlsbGEtdGVzdC1jYTAgFw0yNjExMzAxNTQyMzVaGA8y
MTI2MTEwNjE1NDIzNVowGzEZMBcGA1UEAwwQZmxvdGlsbGEtdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABKa7GiHAvKSsgBGPrJBzxSFPTLLUve/1aoBZ
qIjoxt7PNt7PopXpWcExJbzcjXR79GVnQypZ2Rwziole+loi7/OjUzBRMB0GA1Ud
DgQWBBSg/eXYUFm/EmqB/J21tQdgJB30BzAfBgNVHSMEGDAWgBSg/eXYUFm/EmqB
/J21tQdgJB30BzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIEsP
qK+qifrqUywrv2JuVnh08UbNM6cw1/hLqWEQEYA9AiEAgZbEVCzYZF1Qmiu8TxYL
SD6trSUxCwEcUcroWIP3vmI=
-----END CERTIFICATE-----
`
