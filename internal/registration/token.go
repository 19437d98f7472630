package registration

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// Keys of a bootstrap token Secret (k8s.io/cluster-bootstrap/token/api).
const (
	TokenSecretNamespace  = metav1.NamespaceSystem
	TokenSecretPrefix     = "bootstrap-token-"
	tokenIDKey            = "token-id"
	tokenSecretKey        = "token-secret"
	tokenExpirationKey    = "expiration"
	tokenDescriptionKey   = "description"
	tokenExtraGroupsKey   = "auth-extra-groups"
	tokenUsagePrefix      = "usage-bootstrap-"
	tokenUsageAuth        = tokenUsagePrefix + "authentication"
	tokenUsageSigning     = tokenUsagePrefix + "signing"
	tokenIDLength         = 6
	tokenSecretLength     = 16
	maxDescriptionLength  = 256
	tokenSecretTypeFilter = "type=" + string(corev1.SecretTypeBootstrapToken)
)

var (
	tokenPattern   = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	tokenIDPattern = regexp.MustCompile(`^[a-z0-9]{6}$`)
)

// Token is a Flotilla bootstrap token as `flotilla token list` shows it.
// Its secret half is never read back from the hub.
type Token struct {
	// ID is the public half of the token.
	ID string `json:"id"`
	// Description says what the token is for.
	Description string `json:"description,omitempty"`
	// Expires is when the hub stops accepting the token.
	Expires *metav1.Time `json:"expires,omitempty"`
	// Usages are the bootstrap usages: authentication, signing.
	Usages []string `json:"usages"`
	// ExtraGroups are the groups the token authenticates as.
	ExtraGroups []string `json:"extraGroups"`
	// RequireAccept makes registrations with the token wait for `flotilla
	// accept`.
	RequireAccept bool `json:"requireAccept"`
}

// TokenSecretName is the name of a token's Secret in kube-system.
func TokenSecretName(id string) string { return TokenSecretPrefix + id }

// ParseToken splits a bootstrap token "id.secret".
func ParseToken(token string) (id, secret string, err error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return "", "", errors.New("invalid bootstrap token: want 6 and 16 lower-case letters or digits joined by a dot, as `flotilla token create` prints")
	}
	return m[1], m[2], nil
}

// ParseTokenID accepts a token ID, or a whole token of which it keeps the
// ID.
func ParseTokenID(s string) (string, error) {
	if id, _, err := ParseToken(s); err == nil {
		return id, nil
	}
	if !tokenIDPattern.MatchString(s) {
		return "", fmt.Errorf("invalid token ID %q: want 6 lower-case letters or digits", s)
	}
	return s, nil
}

// TokenOptions describe a token to create.
type TokenOptions struct {
	// TTL is how long the token is valid. It must be positive: Flotilla's
	// tokens always expire.
	TTL time.Duration
	// Description says what the token is for.
	Description string
	// RequireAccept makes registrations with the token wait for `flotilla
	// accept`.
	RequireAccept bool
}

// CreateToken writes a new bootstrap token Secret and returns the token
// ("id.secret") and what was stored.
func CreateToken(ctx context.Context, cs kubernetes.Interface, o TokenOptions, now time.Time) (string, Token, error) {
	if o.TTL <= 0 {
		return "", Token{}, errors.New("--ttl must be positive: Flotilla's bootstrap tokens always expire")
	}
	if len(o.Description) > maxDescriptionLength {
		return "", Token{}, fmt.Errorf("--description is longer than %d characters", maxDescriptionLength)
	}
	id, err := randomString(tokenIDLength)
	if err != nil {
		return "", Token{}, err
	}
	secret, err := randomString(tokenSecretLength)
	if err != nil {
		return "", Token{}, err
	}
	expires := metav1.NewTime(now.Add(o.TTL).UTC().Truncate(time.Second))
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      TokenSecretName(id),
			Namespace: TokenSecretNamespace,
			Labels:    map[string]string{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue},
		},
		Type: corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			tokenIDKey:          id,
			tokenSecretKey:      secret,
			tokenExpirationKey:  expires.Format(time.RFC3339),
			tokenUsageAuth:      "true",
			tokenUsageSigning:   "true",
			tokenExtraGroupsKey: BootstrapGroup,
		},
	}
	if o.Description != "" {
		s.StringData[tokenDescriptionKey] = o.Description
	}
	if o.RequireAccept {
		s.Annotations = map[string]string{AnnotationRequireAccept: "true"}
	}
	if _, err := cs.CoreV1().Secrets(TokenSecretNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return "", Token{}, fmt.Errorf("create bootstrap token secret: %w", err)
	}
	return id + "." + secret, Token{ID: id, Description: o.Description, Expires: &expires,
		Usages: []string{"authentication", "signing"}, ExtraGroups: []string{BootstrapGroup}, RequireAccept: o.RequireAccept}, nil
}

// ListTokens returns Flotilla's bootstrap tokens (those that authenticate
// as BootstrapGroup), by expiry.
func ListTokens(ctx context.Context, cs kubernetes.Interface) ([]Token, error) {
	l, err := cs.CoreV1().Secrets(TokenSecretNamespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.ParseSelectorOrDie(tokenSecretTypeFilter).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list bootstrap tokens: %w", err)
	}
	var out []Token
	for i := range l.Items {
		if t, ok := TokenFromSecret(&l.Items[i]); ok && slices.Contains(t.ExtraGroups, BootstrapGroup) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Expires, out[j].Expires
		if a == nil || b == nil || a.Equal(b) {
			return out[i].ID < out[j].ID
		}
		return a.Before(b)
	})
	return out, nil
}

// TokenFromSecret reads a bootstrap token Secret, without its secret half.
func TokenFromSecret(s *corev1.Secret) (Token, bool) {
	if s.Type != corev1.SecretTypeBootstrapToken {
		return Token{}, false
	}
	get := func(k string) string { return string(s.Data[k]) }
	id := get(tokenIDKey)
	if id == "" || TokenSecretName(id) != s.Name {
		return Token{}, false
	}
	t := Token{ID: id, Description: get(tokenDescriptionKey), RequireAccept: s.Annotations[AnnotationRequireAccept] == "true"}
	if exp := get(tokenExpirationKey); exp != "" {
		if ts, err := time.Parse(time.RFC3339, exp); err == nil {
			mt := metav1.NewTime(ts)
			t.Expires = &mt
		}
	}
	for k, v := range s.Data {
		if u, ok := strings.CutPrefix(k, tokenUsagePrefix); ok && string(v) == "true" {
			t.Usages = append(t.Usages, u)
		}
	}
	sort.Strings(t.Usages)
	for _, g := range strings.Split(get(tokenExtraGroupsKey), ",") {
		if g = strings.TrimSpace(g); g != "" {
			t.ExtraGroups = append(t.ExtraGroups, g)
		}
	}
	return t, true
}

// Expired reports whether the token's expiry is at or before now.
func (t Token) Expired(now time.Time) bool {
	return t.Expires != nil && !now.Before(t.Expires.Time)
}

// RevokeToken deletes a Flotilla bootstrap token: from then on the hub
// accepts no new registration with it. Clusters it registered stay.
func RevokeToken(ctx context.Context, cs kubernetes.Interface, id string) error {
	s, err := cs.CoreV1().Secrets(TokenSecretNamespace).Get(ctx, TokenSecretName(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("no bootstrap token %q on the hub; `flotilla token list` lists them", id)
	}
	if err != nil {
		return fmt.Errorf("read bootstrap token %s: %w", id, err)
	}
	if t, ok := TokenFromSecret(s); !ok || !slices.Contains(t.ExtraGroups, BootstrapGroup) {
		return fmt.Errorf("bootstrap token %q is not a Flotilla registration token; leave it to whoever made it", id)
	}
	err = cs.CoreV1().Secrets(TokenSecretNamespace).Delete(ctx, s.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &s.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete bootstrap token %s: %w", id, err)
	}
	return nil
}
