package registration

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	certutil "k8s.io/client-go/util/cert"
)

// CACertHashPrefix starts a --ca-cert-hash: the only algorithm kubeadm and
// Flotilla accept.
const CACertHashPrefix = "sha256:"

// CACertHash is the pin of a CA, as kubeadm computes it: the SHA-256 of the
// certificate's DER-encoded SubjectPublicKeyInfo, in hex.
func CACertHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return CACertHashPrefix + hex.EncodeToString(sum[:])
}

// NormalizeCACertHash checks a --ca-cert-hash and returns it in lower case.
func NormalizeCACertHash(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	hexPart, ok := strings.CutPrefix(h, CACertHashPrefix)
	if !ok {
		return "", fmt.Errorf("invalid --ca-cert-hash %q: it must start with %q", h, CACertHashPrefix)
	}
	if b, err := hex.DecodeString(hexPart); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("invalid --ca-cert-hash %q: want sha256: and 64 hex digits", h)
	}
	return h, nil
}

// ParseCertificates decodes every CERTIFICATE block of a PEM bundle.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	certs, err := certutil.ParseCertsPEM(pemData)
	if err != nil {
		return nil, fmt.Errorf("parse PEM certificates: %w", err)
	}
	return certs, nil
}

// jwsHeader is the protected header of the bootstrapsigner's signatures.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

var b64 = base64.RawURLEncoding

// SignDetachedJWS returns the detached JWS (RFC 7515, appendix F) of
// content, HS256 with the token secret as key: what the hub's
// bootstrapsigner writes into cluster-info for each signing token.
func SignDetachedJWS(content, tokenID, tokenSecret string) string {
	hdr, _ := json.Marshal(jwsHeader{Alg: "HS256", Kid: tokenID})
	h := b64.EncodeToString(hdr)
	return h + ".." + b64.EncodeToString(mac(h, content, tokenSecret))
}

// VerifyDetachedJWS checks a detached JWS of content made with the token:
// its header must name HS256 and the token ID, and its MAC must match.
func VerifyDetachedJWS(jws, content, tokenID, tokenSecret string) error {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[1] != "" {
		return errors.New("not a detached JWS")
	}
	raw, err := b64.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("JWS header: %w", err)
	}
	var hdr jwsHeader
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return fmt.Errorf("JWS header: %w", err)
	}
	if hdr.Alg != "HS256" {
		return fmt.Errorf("JWS algorithm %q, want HS256", hdr.Alg)
	}
	if hdr.Kid != tokenID {
		return fmt.Errorf("JWS key ID %q, want the token's %q", hdr.Kid, tokenID)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("JWS signature: %w", err)
	}
	if !hmac.Equal(sig, mac(parts[0], content, tokenSecret)) {
		return errors.New("the signature does not match")
	}
	return nil
}

func mac(header, content, key string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(header + "." + b64.EncodeToString([]byte(content))))
	return m.Sum(nil)
}
