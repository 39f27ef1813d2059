package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Leeway is the clock skew tolerated when checking exp, iat and nbf.
const Leeway = 5 * time.Second

// IssueAccess signs an access token for userID, valid for the configured
// AccessTTL, and returns it with its expiry.
func (s *Service) IssueAccess(userID string) (string, time.Time, error) {
	return s.issueAccess(userID, "")
}

// accessClaims are an access token's claims: the registered ones, and the
// sign-in it belongs to (sid; absent in a token issued without one, such
// as IssueAccess's).
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid,omitempty"`
}

// issueAccess is IssueAccess for the sign-in sessionID.
func (s *Service) issueAccess(userID, sessionID string) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.cfg.AccessTTL)
	jti, err := uuid.NewV7()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: token id: %w", err)
	}
	claims := accessClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        jti.String(),
	}, SessionID: sessionID}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign access token: %w", err)
	}
	return tok, exp, nil
}

// parseAccess verifies an access token: HS256 only, our issuer, an exp
// (checked with Leeway) and a subject. A well-signed but expired token gives
// ErrTokenExpired; anything else wrong gives ErrInvalidToken.
func (s *Service) parseAccess(raw string) (Principal, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims,
		func(*jwt.Token) (any, error) { return s.cfg.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(s.now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// Claims are validated only after the signature, so this token
		// is one of ours.
		return Principal{}, ErrTokenExpired
	case err != nil:
		return Principal{}, ErrInvalidToken
	case claims.Subject == "" || claims.IssuedAt == nil:
		// Every token SKER signs has both: a sign-out is enforced
		// through iat.
		return Principal{}, ErrInvalidToken
	}
	return Principal{
		UserID:    claims.Subject,
		Method:    MethodJWT,
		TokenID:   claims.ID,
		ExpiresAt: claims.ExpiresAt.Time,
		IssuedAt:  claims.IssuedAt.Time,
		SessionID: claims.SessionID,
	}, nil
}

// randomToken returns prefix + base64url of 32 random bytes.
func randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashToken is the SHA-256 hex digest under which refresh and API tokens
// are stored. The tokens carry 256 random bits, so a fast hash is enough.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("auth: new id: %w", err)
	}
	return id.String(), nil
}
