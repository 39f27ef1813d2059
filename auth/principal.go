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
		return s.parseAccess(bearer)
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
