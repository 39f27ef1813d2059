package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skerhq/sker/store"
)

// Method is how a request authenticated.
type Method string

// The authentication methods.
const (
	MethodJWT      Method = "jwt"       // an access token from login or refresh
	MethodAPIToken Method = "api_token" // a long-lived integration token
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID string
	Method Method
	// TokenID is the access token's jti or the API token's id.
	TokenID string
	// ExpiresAt is when the credential expires; zero for an API token
	// without expiry.
	ExpiresAt time.Time
	// IssuedAt is when an access token was signed (whole seconds); zero
	// for an API token.
	IssuedAt time.Time
	// SessionID is the sign-in an access token belongs to (its refresh
	// tokens' store.RefreshToken.Session); "" for an API token and for an
	// access token issued without a sign-in.
	SessionID string
}

// touchEvery limits how often an API token's last-used time is written.
const touchEvery = time.Minute

// Authenticate resolves a bearer credential: an API token (APITokenPrefix)
// or a JWT access token. It fails with ErrTokenExpired or ErrInvalidToken.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, ErrInvalidToken
	}
	if !strings.HasPrefix(bearer, APITokenPrefix) {
		return s.authenticateAccess(ctx, bearer)
	}
	now := s.now()
	t, err := s.st.APITokenByHash(ctx, HashToken(bearer), now)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: api token: %w", err)
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		if err := s.st.TouchAPIToken(ctx, t.ID, now); err != nil {
			// Last-used is informational: log, do not fail the request.
			s.log.WarnContext(ctx, "auth: touch api token", "token_id", t.ID, "err", err)
		}
	}
	p := Principal{UserID: t.UserID, Method: MethodAPIToken, TokenID: t.ID}
	if t.ExpiresAt != nil {
		p.ExpiresAt = *t.ExpiresAt
	}
	return p, nil
}

// authenticateAccess verifies an access token and that it still speaks for
// someone: its user exists (a token outlives an account removed from the
// store, or a store restored from an older backup) and has not been signed
// out everywhere since the token was issued, nor out of the sign-in the
// token belongs to. Any of these failures is
// ErrInvalidToken, the same 401 as any other unusable token.
func (s *Service) authenticateAccess(ctx context.Context, bearer string) (Principal, error) {
	p, err := s.parseAccess(bearer)
	if err != nil {
		return Principal{}, err
	}
	u, err := s.st.UserByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: access token user: %w", err)
	}
	if u.SessionsRevokedAt != nil && revokedBy(p.IssuedAt, *u.SessionsRevokedAt) {
		return Principal{}, ErrInvalidToken
	}
	if p.SessionID != "" {
		// Signed out of this sign-in (on any node: the store is shared).
		ended, err := s.st.SessionEnded(ctx, p.SessionID)
		if err != nil {
			return Principal{}, fmt.Errorf("auth: access token session: %w", err)
		}
		if ended {
			return Principal{}, ErrInvalidToken
		}
	}
	return p, nil
}

// revokedBy reports whether a token issued at issued (whole seconds, as a
// JWT carries it) may predate a sign-out at revoked. A token signed in the
// same second as the sign-out cannot be told apart from one signed just
// before it, so it is refused too: a person signing in again takes longer
// than that.
func revokedBy(issued, revoked time.Time) bool {
	return issued.Unix() <= revoked.Unix()
}
