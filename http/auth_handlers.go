package skerhttp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

type sessionResponse struct {
	User         userView `json:"user"`
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int64    `json:"expires_in"` // seconds until the access token expires
}

func (s *Server) sendSession(c *fiber.Ctx, status int, ses auth.Session) error {
	return c.Status(status).JSON(sessionResponse{
		User:         viewUser(ses.User),
		AccessToken:  ses.AccessToken,
		RefreshToken: ses.RefreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(s.auth.AccessTTL() / time.Second),
	})
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// register: POST /api/v1/auth/register → 201 session.
func (s *Server) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	ses, err := s.auth.Register(c.UserContext(), req.Email, req.Password, req.Name)
	if err != nil {
		return err
	}
	Logger(c).Info("user registered", "user_id", ses.User.ID)
	return s.sendSession(c, http.StatusCreated, ses)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login: POST /api/v1/auth/login → 200 session, 401, or 429 with
// Retry-After.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Email == "" {
		return apierr.Invalid("email", "is required")
	}
	if req.Password == "" {
		return apierr.Invalid("password", "is required")
	}
	ses, err := s.auth.Login(c.UserContext(), req.Email, req.Password, s.clientIP(c))
	if err != nil {
		return err
	}
	return s.sendSession(c, http.StatusOK, ses)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (r refreshRequest) validate() error {
	if r.RefreshToken == "" {
		return apierr.Invalid("refresh_token", "is required")
	}
	return nil
}

// refresh: POST /api/v1/auth/refresh → 200 session with a new refresh
// token; the presented one stops working.
func (s *Server) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	ses, err := s.auth.Refresh(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	return s.sendSession(c, http.StatusOK, ses)
}

// logout: POST /api/v1/auth/logout → 204. It needs only the refresh
// token, so a client with an expired access token can still sign out.
func (s *Server) logout(c *fiber.Ctx) error {
	var req refreshRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if err := s.auth.Logout(c.UserContext(), req.RefreshToken); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// logoutEverywhere: POST /api/v1/auth/logout-everywhere → 204. It takes a
// signed-in session, as managing API tokens does: an API token cannot
// sign its user out.
func (s *Server) logoutEverywhere(c *fiber.Ctx) error {
	p, err := tokenOwner(c)
	if err != nil {
		return err
	}
	if err := s.auth.LogoutEverywhere(c.UserContext(), p.UserID); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// me: GET /api/v1/me → the caller's account.
func (s *Server) me(c *fiber.Ctx) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	u, err := s.st.UserByID(c.UserContext(), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		// A valid token for a user that no longer exists.
		return auth.ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("me: %w", err)
	}
	return c.JSON(viewUser(u))
}
