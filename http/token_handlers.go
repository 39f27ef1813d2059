package skerhttp

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

// tokenOwner is the caller of a token route. Managing API tokens takes an
// interactive session: an API token cannot mint or delete API tokens, so a
// leaked one cannot entrench itself.
func tokenOwner(c *fiber.Ctx) (auth.Principal, error) {
	p, err := principal(c)
	if err != nil {
		return p, err
	}
	if p.Method != auth.MethodJWT {
		return p, apierr.Forbidden("API tokens are managed with a signed-in session, not an API token")
	}
	return p, nil
}

// listTokens: GET /api/v1/tokens → the caller's API tokens, without their
// secrets.
func (s *Server) listTokens(c *fiber.Ctx) error {
	p, err := tokenOwner(c)
	if err != nil {
		return err
	}
	ts, err := s.auth.ListAPITokens(c.UserContext(), p.UserID)
	if err != nil {
		return err
	}
	out := make([]tokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, viewToken(t))
	}
	return c.JSON(fiber.Map{"tokens": out})
}

type createTokenRequest struct {
	Name      string  `json:"name"`
	ExpiresAt *string `json:"expires_at"` // RFC 3339; absent or null: never
}

// createToken: POST /api/v1/tokens {name, expires_at?} → 201 with the
// token itself, shown this once.
func (s *Server) createToken(c *fiber.Ctx) error {
	p, err := tokenOwner(c)
	if err != nil {
		return err
	}
	var req createTokenRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	var exp *time.Time
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return apierr.Invalid("expires_at", "must be an RFC 3339 time like 2030-01-02T15:04:05Z")
		}
		exp = &t
	}
	t, secret, err := s.auth.CreateAPIToken(c.UserContext(), p.UserID, req.Name, exp)
	if err != nil {
		return err
	}
	v := viewToken(t)
	v.Token = secret
	return c.Status(http.StatusCreated).JSON(v)
}

// deleteToken: DELETE /api/v1/tokens/:id → 204.
func (s *Server) deleteToken(c *fiber.Ctx) error {
	p, err := tokenOwner(c)
	if err != nil {
		return err
	}
	id := c.Params("id")
	if !validID(id) {
		return apierr.NotFound("api token")
	}
	if err := s.auth.DeleteAPIToken(c.UserContext(), p.UserID, id); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
