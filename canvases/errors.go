package canvases

import (
	"errors"
	"net/http"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
)

// Error is an error of the contract. Each is a sentinel, matched with
// errors.Is (implementations wrap it with what they know), and carries what
// a client is told of it.
type Error struct {
	text string
	api  apierr.Error
}

func newError(text string, status int, code, message string) *Error {
	return &Error{text: text, api: apierr.Error{Status: status, Code: code, Message: message}}
}

func (e *Error) Error() string { return e.text }

// API returns what a client is told of the error, the same over REST and
// WebSocket.
func (e *Error) API() *apierr.Error {
	a := e.api
	return &a
}

// Errors of Canvases.
var (
	// ErrNotFound: no canvas with that id exists.
	ErrNotFound = newError("canvases: canvas not found",
		http.StatusNotFound, apierr.CodeNotFound, "canvas not found")
	// ErrUnavailable: the canvas could not take the request (it is
	// loading, stopping, moving, or lost its ownership). Nothing of the
	// request was committed; retrying later is safe.
	ErrUnavailable = newError("canvases: canvas unavailable",
		http.StatusServiceUnavailable, apierr.CodeUnavailable,
		"the canvas is not available right now; nothing was changed, retry shortly")
	// ErrOutcomeUnknown: the journal did not answer, so the batch may or
	// may not have been committed. The client learns which by catching up
	// (history, or since) before it sends the batch again.
	ErrOutcomeUnknown = newError("canvases: commit outcome unknown",
		http.StatusServiceUnavailable, apierr.CodeOutcomeUnknown,
		"the change may or may not have been committed; check the canvas's history or snapshot before retrying")
	// ErrHistoryTrimmed: the changes asked for are older than the history
	// kept; take a snapshot instead.
	ErrHistoryTrimmed = newError("canvases: history trimmed",
		http.StatusGone, apierr.CodeHistoryTrimmed,
		"the changes asked for are older than the history kept; take a snapshot (GET /api/v1/canvases/{id}) instead")
	// ErrStaleRun: the card no longer runs that AI run (cancelled, run
	// again or deleted); its result was dropped. Only the AI engine sees
	// it.
	ErrStaleRun = newError("canvases: the card no longer runs this AI run",
		http.StatusConflict, apierr.CodeConflict, "the card no longer runs this AI run")
)

// APIError returns what a client may learn of an error of Canvases, for the
// REST API and the WebSocket protocol alike: the API error of a rejected
// batch (*canvas.OpError) or of an Error. ok is false for any other error:
// it carries nothing a client may see, and the caller answers it as its
// transport answers an unexpected failure.
func APIError(err error) (e *apierr.Error, ok bool) {
	var opErr *canvas.OpError
	if errors.As(err, &opErr) {
		return opErr.API(), true
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.API(), true
	}
	return nil, false
}

// NotOwnerError: the node asked does not own the canvas, so it did
// nothing. Holder is the node that holds the canvas's lease, or "" when
// none does or the node asked does not know. It unwraps to
// ErrUnavailable, which is what a client is told; the cluster's routing
// layer reads Holder to send the request on.
type NotOwnerError struct {
	CanvasID string
	Holder   string
}

func (e *NotOwnerError) Error() string {
	if e.Holder == "" {
		return "canvases: canvas " + e.CanvasID + " is not owned by this node"
	}
	return "canvases: canvas " + e.CanvasID + " is owned by node " + e.Holder
}

// Unwrap makes errors.Is(err, ErrUnavailable) true: nothing was committed.
func (e *NotOwnerError) Unwrap() error { return ErrUnavailable }
