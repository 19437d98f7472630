package registration

import (
	"strings"
	"testing"
)

// testCAPEM is a CA certificate whose pin openssl computes as
//
//	openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
const testCAPEM = `-----BEGIN CERTIFICATE-----
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

func TestCACertHashIsKubeadms(t *testing.T) {
	certs, err := ParseCertificates([]byte(testCAPEM))
	if err != nil {
		t.Fatal(err)
	}
	const want = "sha256:1527be3779c92f142c3110a5e3a09e5729c58e3309c411bacbd8f0bad8925fa3"
	if got := CACertHash(certs[0]); got != want {
		t.Errorf("CACertHash = %s, want %s", got, want)
	}
}

func TestNormalizeCACertHash(t *testing.T) {
	hex := strings.Repeat("aB", 32)
	if got, err := NormalizeCACertHash(" SHA256:" + hex); err != nil || got != "sha256:"+strings.ToLower(hex) {
		t.Errorf("NormalizeCACertHash = %q, %v", got, err)
	}
	for _, bad := range []string{hex, "sha1:" + hex, "sha256:" + hex[:62], "sha256:" + strings.Repeat("zz", 32)} {
		if _, err := NormalizeCACertHash(bad); err == nil {
			t.Errorf("NormalizeCACertHash(%q) accepted", bad)
		}
	}
}

// The bootstrapsigner's signature of this content with this token, as
// k8s.io/cluster-bootstrap/token/jws.ComputeDetachedSignature makes it.
const (
	jwsContent = "apiVersion: v1\nkind: Config\n"
	jwsTokenID = "abcdef"
	jwsSecret  = "0123456789abcdef"
	jwsWant    = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..vH_kT4yiol-nrAWgjfCYqvum5wsKETXe0S7OOp1VgnE"
)

func TestSignDetachedJWSMatchesBootstrapSigner(t *testing.T) {
	if got := SignDetachedJWS(jwsContent, jwsTokenID, jwsSecret); got != jwsWant {
		t.Errorf("SignDetachedJWS = %s, want %s", got, jwsWant)
	}
}

func TestVerifyDetachedJWS(t *testing.T) {
	tests := map[string]struct {
		jws, content, id, secret string
		wantErr                  string
	}{
		"the bootstrapsigner's": {jws: jwsWant, content: jwsContent, id: jwsTokenID, secret: jwsSecret},
		"another secret":        {jws: jwsWant, content: jwsContent, id: jwsTokenID, secret: "0123456789abcdeg", wantErr: "does not match"},
		"altered content":       {jws: jwsWant, content: jwsContent + " ", id: jwsTokenID, secret: jwsSecret, wantErr: "does not match"},
		"another token's":       {jws: SignDetachedJWS(jwsContent, "zzzzzz", jwsSecret), content: jwsContent, id: jwsTokenID, secret: jwsSecret, wantErr: "key ID"},
		"not detached":          {jws: "a.b.c", content: jwsContent, id: jwsTokenID, secret: jwsSecret, wantErr: "not a detached JWS"},
		"alg none": {jws: "eyJhbGciOiJub25lIiwia2lkIjoiYWJjZGVmIn0..", content: jwsContent, id: jwsTokenID, secret: jwsSecret,
			wantErr: "algorithm"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := VerifyDetachedJWS(tc.jws, tc.content, tc.id, tc.secret)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifyDetachedJWS: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("VerifyDetachedJWS error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
