// Package apierr is SKER's one table of machine-readable error codes, shared
// by the REST API and the WebSocket protocol. Every error a client can see is
// an *Error: an HTTP status, a stable code, a human message and, for bad
// input, the name of the offending field.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error a client is allowed to see. Its JSON form is the body of
// every failed API response: {"error":{"code":…,"message":…,"field":…}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Is lets errors.Is match two *Error values by code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Codes. They are part of the public protocol: never rename one, only add.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidField     = "invalid_field"
	CodeUnauthorized     = "unauthorized"
	CodeTokenExpired     = "token_expired"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeEmailTaken       = "email_taken"
	CodeAlreadyMember    = "already_member"
	CodeLastOwner        = "last_owner"
	CodePayloadTooLarge  = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeUserNotFound     = "user_not_found"     // adding a member by an email with no account
	CodeMethodNotAllowed = "method_not_allowed" // a known path with the wrong HTTP method
	// CodeOutcomeUnknown: the journal did not answer in time, so a change may
	// or may not have been committed; the client learns which from the
	// canvas's history or snapshot before it retries.
	CodeOutcomeUnknown = "outcome_unknown"
	// CodeHistoryTrimmed: the changes asked for are older than the history
	// the server keeps; the client takes a snapshot instead.
	CodeHistoryTrimmed = "history_trimmed"
	// CodeInvalidText: a string in the request is not valid UTF-8, or holds
	// a character no store can keep (U+0000, a lone surrogate); field names
	// where. Nothing is stored or replaced: the request changes nothing.
	CodeInvalidText = "invalid_text"
	// CodeHeadersTooLarge: the request's header section is over the server's
	// limit (HTTP 431).
	CodeHeadersTooLarge = "headers_too_large"
	// CodeRequestTimeout: the request's header or body did not arrive
	// within the server's read timeout (HTTP 408); the connection is closed.
	CodeRequestTimeout = "request_timeout"
	// CodeNotImplemented: the request method is not one the server knows
	// (HTTP 501).
	CodeNotImplemented = "not_implemented"
)

// New returns an *Error with the given status, code and message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Invalid reports a bad value in the named request field.
func Invalid(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: message, Field: field}
}

// InvalidText reports a string that is not valid UTF-8 or holds a character
// the server refuses to keep (see CodeInvalidText), in the named field.
func InvalidText(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidText, Message: message, Field: field}
}

// BadRequest reports a malformed request that no single field explains.
func BadRequest(message string) *Error {
	return New(http.StatusBadRequest, CodeBadRequest, message)
}

// Unauthorized reports a missing or invalid credential.
func Unauthorized(message string) *Error {
	return New(http.StatusUnauthorized, CodeUnauthorized, message)
}

// Forbidden reports a caller who may see a resource but not do this to it.
func Forbidden(message string) *Error {
	return New(http.StatusForbidden, CodeForbidden, message)
}

// NotFound reports a resource that does not exist or that the caller may not
// see: the two answers are the same so that existence does not leak.
func NotFound(what string) *Error {
	return New(http.StatusNotFound, CodeNotFound, what+" not found")
}

// Conflict reports a request that clashes with the current state.
func Conflict(code, message string) *Error {
	return New(http.StatusConflict, code, message)
}

// Internal is the only thing a client learns of an unexpected failure.
func Internal() *Error {
	return New(http.StatusInternalServerError, CodeInternal, "internal error")
}

// From returns err as an *Error, or Internal() when err carries none.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal()
}
