package actors

import "errors"

// Errors of the Hub. A *canvas.OpError is returned for a rejected batch.
var (
	// ErrCanvasNotFound: no canvas with that id exists in the store.
	ErrCanvasNotFound = errors.New("actors: canvas not found")
	// ErrUnavailable: the canvas could not take the request (it is
	// stopping, failed to load, or lost its ownership). Nothing of the
	// request was committed; retrying later is safe.
	ErrUnavailable = errors.New("actors: canvas unavailable")
	// ErrOutcomeUnknown: the journal did not answer, so the batch may or
	// may not have been committed. The client learns which by catching up
	// with since.
	ErrOutcomeUnknown = errors.New("actors: commit outcome unknown")
	// ErrHistoryTrimmed: the changes asked for are older than the history
	// kept; take a snapshot instead.
	ErrHistoryTrimmed = errors.New("actors: history trimmed")
)
