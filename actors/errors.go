package actors

import "github.com/skerhq/sker/canvases"

// The Hub's errors are the canvas contract's (canvases.ErrNotFound,
// canvases.ErrUnavailable, canvases.ErrOutcomeUnknown,
// canvases.ErrHistoryTrimmed, canvases.ErrStaleRun); a rejected batch is a
// *canvas.OpError.

// Forwarding names of contract errors that moved to package canvases, kept
// only while code outside the package still uses them; they are the same
// values, so errors.Is matches either name. Use the canvases names.
var (
	ErrCanvasNotFound = canvases.ErrNotFound
	ErrUnavailable    = canvases.ErrUnavailable
	ErrOutcomeUnknown = canvases.ErrOutcomeUnknown
)
