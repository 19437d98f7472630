package doctor

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ExpiryWarning is how close to its expiry a certificate or token makes
// the credentials check warn.
const ExpiryWarning = 30 * 24 * time.Hour

// ExpiryStatus rates an expiry: Fail once expired, Warn within
// ExpiryWarning, else Pass.
func ExpiryStatus(notAfter, now time.Time) Status {
	switch left := notAfter.Sub(now); {
	case left <= 0:
		return Fail
	case left < ExpiryWarning:
		return Warn
	}
	return Pass
}

// describeExpiry says when something expires relative to now:
// "expires 2027-11-24 (in 365 days)" or "expired 2026-11-20 (4 days ago)".
func describeExpiry(notAfter, now time.Time) string {
	date := notAfter.UTC().Format("2006-01-02 15:04 UTC")
	left := notAfter.Sub(now)
	if left <= 0 {
		return fmt.Sprintf("expired %s (%s ago)", date, approx(-left))
	}
	return fmt.Sprintf("expires %s (in %s)", date, approx(left))
}

// approx renders a duration in its largest whole unit: days, hours,
// minutes or seconds.
func approx(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return fmt.Sprintf("%ds", int(d/time.Second))
}

// certName names a certificate for a human: its subject's common name, or
// the whole subject.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + c.Subject.CommonName
	}
	return c.Subject.String()
}

// errNotJWT marks a token that is not a JSON Web Token.
var errNotJWT = errors.New("not a JWT")

// TokenExpiry reads the exp claim of a JSON Web Token without verifying
// it. It returns ok=false when the token is a JWT without exp (a legacy
// service-account token), and errNotJWT when it is not a JWT at all. The
// token itself never appears in an error.
func TokenExpiry(token string) (exp time.Time, ok bool, err error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return time.Time{}, false, errNotJWT
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false, errNotJWT
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return time.Time{}, false, errNotJWT
	}
	if claims.Exp == nil {
		return time.Time{}, false, nil
	}
	f, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, false, errors.New("the exp claim is not a number")
	}
	return time.Unix(int64(f), 0), true, nil
}
