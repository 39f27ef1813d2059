// Package apierr is SKER's one table of machine-readable error codes, shared
// by the REST API and the WebSocket protocol. Every error a client can see is
// an *Error: an HTTP status, a stable code, a human message and, for bad
// input, the name of the offending field.
//
// The codes are in codes.go, the WebSocket close codes in close.go; no other
// package declares one.
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
