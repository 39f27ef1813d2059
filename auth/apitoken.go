package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

// APITokenPrefix starts every API token, so that a leaked one is easy to
// recognise (secret scanners) and Authenticate can tell it from a JWT.
const APITokenPrefix = "sker_"

// MaxAPITokenName is the longest API token name, in characters.
const MaxAPITokenName = 100

// CreateAPIToken makes a named API token for userID, optionally expiring.
// The returned string is the token itself; only its hash is stored, so it
// cannot be shown again.
func (s *Service) CreateAPIToken(ctx context.Context, userID, name string, expiresAt *time.Time) (store.APIToken, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxAPITokenName {
		return store.APIToken{}, "", apierr.Invalid("name", "must be 1 to 100 characters")
	}
	now := s.now().UTC()
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return store.APIToken{}, "", apierr.Invalid("expires_at", "must be in the future")
		}
		e := expiresAt.UTC()
		expiresAt = &e
	}
	tok, err := randomToken(APITokenPrefix)
	if err != nil {
		return store.APIToken{}, "", err
	}
	id, err := newID()
	if err != nil {
		return store.APIToken{}, "", err
	}
	t := store.APIToken{ID: id, UserID: userID, Name: name, TokenHash: HashToken(tok),
		CreatedAt: now, ExpiresAt: expiresAt}
	if err := s.st.CreateAPIToken(ctx, t); err != nil {
		return store.APIToken{}, "", fmt.Errorf("auth: store api token: %w", err)
	}
	return t, tok, nil
}

// ListAPITokens lists userID's API tokens (hashes included; never show
// them to a client).
func (s *Service) ListAPITokens(ctx context.Context, userID string) ([]store.APIToken, error) {
	ts, err := s.st.ListAPITokens(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("auth: list api tokens: %w", err)
	}
	return ts, nil
}

// DeleteAPIToken deletes one of userID's API tokens and tells the
// revocation listeners; a token that does not exist or belongs to someone
// else is a 404.
func (s *Service) DeleteAPIToken(ctx context.Context, userID, id string) error {
	err := s.st.DeleteAPIToken(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound("api token")
	}
	if err != nil {
		return fmt.Errorf("auth: delete api token: %w", err)
	}
	s.revoked(userID, id)
	return nil
}
