package canvases_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// TestAPIError: every error of the contract, even wrapped, reaches a client
// with its own status and code, a rejected batch with its op's code, and
// any other error with nothing.
func TestAPIError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		ok     bool
		status int
		code   string
	}{
		{"not found", canvases.ErrNotFound, true, http.StatusNotFound, apierr.CodeNotFound},
		{"unavailable", fmt.Errorf("%w: dead letter", canvases.ErrUnavailable), true, http.StatusServiceUnavailable, apierr.CodeUnavailable},
		{"outcome unknown", fmt.Errorf("%w: no answer in time", canvases.ErrOutcomeUnknown), true, http.StatusServiceUnavailable, apierr.CodeOutcomeUnknown},
		{"history trimmed", canvases.ErrHistoryTrimmed, true, http.StatusGone, apierr.CodeHistoryTrimmed},
		{"stale run", canvases.ErrStaleRun, true, http.StatusConflict, apierr.CodeConflict},
		{"not owner", fmt.Errorf("route: %w", &canvases.NotOwnerError{CanvasID: "c1", Holder: "node-2"}), true, http.StatusServiceUnavailable, apierr.CodeUnavailable},
		{"rejected batch", fmt.Errorf("submit: %w", &canvas.OpError{Code: apierr.CodeCanvasFull, Message: "full", Index: 0}), true, http.StatusConflict, apierr.CodeCanvasFull},
		{"other", errors.New("disk on fire"), false, 0, ""},
		{"nil", nil, false, 0, ""},
	}
	for _, c := range cases {
		e, ok := canvases.APIError(c.err)
		if ok != c.ok {
			t.Errorf("%s: got ok %v; want %v", c.name, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if e.Status != c.status || e.Code != c.code || e.Message == "" {
			t.Errorf("%s: got %d %q %q; want %d %q and a message", c.name, e.Status, e.Code, e.Message, c.status, c.code)
		}
	}
}

// TestErrorsAreDistinct: errors.Is tells the contract's errors apart, and an
// API error with the same code (which apierr matches by code) is none of
// them.
func TestErrorsAreDistinct(t *testing.T) {
	all := []error{canvases.ErrNotFound, canvases.ErrUnavailable, canvases.ErrOutcomeUnknown, canvases.ErrHistoryTrimmed, canvases.ErrStaleRun}
	for i, a := range all {
		for j, b := range all {
			if got := errors.Is(fmt.Errorf("wrapped: %w", a), b); got != (i == j) {
				t.Errorf("errors.Is(%v, %v): got %v; want %v", a, b, got, i == j)
			}
		}
	}
	if errors.Is(apierr.NotFound("user"), canvases.ErrNotFound) {
		t.Errorf("errors.Is(apierr.NotFound(user), ErrNotFound): got true; want false")
	}
}

// TestAPIIsACopy: what one caller does to the API error it got does not
// change what the next one gets.
func TestAPIIsACopy(t *testing.T) {
	e, _ := canvases.APIError(canvases.ErrUnavailable)
	e.Message = "changed"
	if again, _ := canvases.APIError(canvases.ErrUnavailable); again.Message == "changed" {
		t.Errorf("second APIError: got message %q; want the original", again.Message)
	}
}
