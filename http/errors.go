package skerhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

// errorBody is the one JSON shape of every failed response.
type errorBody struct {
	Error *apierr.Error `json:"error"`
}

// errorHandler is Fiber's ErrorHandler: it turns any error a handler or
// Fiber itself returns into the JSON error shape. Errors that carry no
// client-facing meaning are logged and answered with a bare 500.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := s.clientError(c, err)
	var limited *auth.LimitedError
	if errors.As(err, &limited) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
	}
	if e.Code == apierr.CodeUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		// Nothing was done; a canvas that is moving or reloading is back
		// within a second or two.
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if e.Status == http.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="sker"`)
	}
	return c.Status(e.Status).JSON(errorBody{Error: e})
}

// clientError is what the client may learn of err.
func (s *Server) clientError(c *fiber.Ctx, err error) *apierr.Error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		// Returned on purpose; whoever returned a 5xx logged why.
		return ae
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fromFiber(fe)
	}
	Logger(c).ErrorContext(c.UserContext(), "request failed", "err", err)
	return apierr.Internal()
}

// fromFiber maps Fiber's own errors (no route, wrong method, body too large,
// unreadable request) onto the code table. Fiber's messages may echo the
// request or a parser error, so each status gets a fixed message.
func fromFiber(fe *fiber.Error) *apierr.Error {
	switch fe.Code {
	case http.StatusNotFound:
		return apierr.NotFound("route")
	case http.StatusMethodNotAllowed:
		return apierr.New(fe.Code, apierr.CodeMethodNotAllowed, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return apierr.New(fe.Code, apierr.CodePayloadTooLarge, "request body too large")
	case http.StatusUnsupportedMediaType:
		return unsupportedMedia()
	case http.StatusTooManyRequests:
		return apierr.New(fe.Code, apierr.CodeRateLimited, "too many requests")
	case http.StatusUnauthorized:
		return apierr.Unauthorized("unauthorized")
	case http.StatusForbidden:
		return apierr.Forbidden("forbidden")
	case http.StatusServiceUnavailable:
		return apierr.New(fe.Code, apierr.CodeUnavailable, "service unavailable")
	case http.StatusRequestHeaderFieldsTooLarge:
		return apierr.New(fe.Code, apierr.CodeHeadersTooLarge, "request header too large")
	case http.StatusRequestTimeout:
		return apierr.New(fe.Code, apierr.CodeRequestTimeout, "request not received in time")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return apierr.New(fe.Code, apierr.CodeBadRequest, http.StatusText(fe.Code))
	}
	return apierr.Internal()
}

func unsupportedMedia() *apierr.Error {
	return apierr.New(http.StatusUnsupportedMediaType, apierr.CodeUnsupportedMedia,
		"request body must be application/json")
}

// notFound maps store.ErrNotFound to a 404 naming what; other errors pass
// through, wrapped with op, to become a logged 500.
func notFound(err error, what, op string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apierr.NotFound(what)
	}
	return fmt.Errorf("%s: %w", op, err)
}
