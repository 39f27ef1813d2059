package skerhttp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

// RequireAuth is middleware that admits a request only with a valid
// "Authorization: Bearer <token>" header (an access token or an API
// token), and stores the caller for PrincipalFrom. Otherwise: 401
// unauthorized, or 401 token_expired for an expired access token.
func (s *Server) RequireAuth() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := bearer(c.Get(fiber.HeaderAuthorization))
		if !ok {
			return auth.ErrInvalidToken
		}
		p, err := s.auth.Authenticate(c.UserContext(), tok)
		if err != nil {
			return err
		}
		c.Locals(keyPrincipal, p)
		return c.Next()
	}
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// PrincipalFrom returns the caller RequireAuth admitted; ok is false on a
// route without RequireAuth.
func PrincipalFrom(c *fiber.Ctx) (auth.Principal, bool) {
	p, ok := c.Locals(keyPrincipal).(auth.Principal)
	return p, ok
}

// principal is PrincipalFrom for handlers behind RequireAuth.
func principal(c *fiber.Ctx) (auth.Principal, error) {
	p, ok := PrincipalFrom(c)
	if !ok {
		return auth.Principal{}, auth.ErrInvalidToken
	}
	return p, nil
}

// CanvasAccess returns the caller's role on canvasID. A malformed id, a
// canvas that does not exist and a canvas the caller is not a member of
// all give the same 404 not_found, so that existence does not leak. The
// route must be behind RequireAuth (401 otherwise).
func (s *Server) CanvasAccess(c *fiber.Ctx, canvasID string) (store.Role, error) {
	p, err := principal(c)
	if err != nil {
		return "", err
	}
	if !validID(canvasID) {
		return "", apierr.NotFound("canvas")
	}
	role, err := s.st.Role(c.UserContext(), canvasID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return "", apierr.NotFound("canvas")
	}
	if err != nil {
		return "", fmt.Errorf("canvas role: %w", err)
	}
	return role, nil
}

// validID reports whether id is a UUID in canonical form, the only form
// SKER issues.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}

func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}
