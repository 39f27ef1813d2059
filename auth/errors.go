package auth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/skerhq/sker/apierr"
)

// Errors a client sees. They are *apierr.Error values; compare codes with
// errors.Is against apierr values or inspect Code.
var (
	// ErrInvalidCredentials: a login with a wrong email or password. The
	// two cases are indistinguishable on purpose.
	ErrInvalidCredentials = apierr.Unauthorized("invalid email or password")
	// ErrInvalidToken: a missing, malformed, tampered or revoked token.
	ErrInvalidToken = apierr.Unauthorized("invalid or missing token")
	// ErrTokenExpired: a well-signed access token past its expiry; the
	// client should refresh.
	ErrTokenExpired = apierr.New(http.StatusUnauthorized, apierr.CodeTokenExpired, "access token expired")
	// ErrRefreshInvalid: a refresh token that is unknown, expired or
	// revoked.
	ErrRefreshInvalid = apierr.Unauthorized("invalid or expired refresh token")
	// ErrRefreshReused: a refresh token presented after it was rotated.
	// Every refresh token of the user has been revoked.
	ErrRefreshReused = apierr.Unauthorized("refresh token already used; all sessions signed out")
	// ErrEmailTaken: registration with an email that has an account.
	ErrEmailTaken = &apierr.Error{Status: http.StatusConflict, Code: apierr.CodeEmailTaken,
		Message: "an account with this email exists", Field: "email"}
)

// LimitedError reports a login refused by the rate limiter. It unwraps to
// a 429 rate_limited *apierr.Error; RetryAfter belongs in the Retry-After
// header.
type LimitedError struct {
	RetryAfter time.Duration
}

// Error describes the refusal for logs.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %v", e.RetryAfter)
}

// Unwrap returns the client-facing error.
func (e *LimitedError) Unwrap() error {
	return apierr.New(http.StatusTooManyRequests, apierr.CodeRateLimited,
		"too many failed login attempts; try again later")
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1,
// as the Retry-After header wants it.
func (e *LimitedError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
