package skerhttp

import (
	"context"
	"encoding/json"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// Canvases is what the handlers need of the canvas contract
// (canvases.Canvases; *actors.Hub on one node): every change to a canvas's
// content or metadata goes through Submit, so that it is ordered, journaled
// and fanned out like a change from a WebSocket client.
//
// Errors are the contract's: a *canvas.OpError for a rejected batch,
// canvases.ErrNotFound, canvases.ErrUnavailable, canvases.ErrOutcomeUnknown
// and, from History, canvases.ErrHistoryTrimmed (returned with the canvas's
// current seq).
type Canvases interface {
	// Submit commits ops as one batch by author and returns its seq once the
	// journal has it. The caller has checked that author may edit.
	Submit(ctx context.Context, canvasID, author, clientBatchID string, ops []canvas.Op) (uint64, error)
	// Snapshot returns the committed state.
	Snapshot(ctx context.Context, canvasID string) (canvas.Export, error)
	// History returns up to limit encoded journal.Committed batches after
	// since, and the canvas's current seq.
	History(ctx context.Context, canvasID string, since uint64, limit int) ([][]byte, uint64, error)
	// Forget stops a deleted canvas's actor and removes its journal.
	Forget(ctx context.Context, canvasID string) error
}

var _ Canvases = canvases.Canvases(nil)

// canvasError maps an error of Canvases to what the client may learn
// (canvases.APIError). Other errors pass through, to become a logged 500.
func canvasError(err error) error {
	if e, ok := canvases.APIError(err); ok {
		return e
	}
	return err
}

// snapshotSettings is a snapshot's settings as a JSON object, "{}" when
// there are none.
func snapshotSettings(ex canvas.Export) json.RawMessage {
	if len(ex.Settings) == 0 {
		return json.RawMessage("{}")
	}
	raw, err := json.Marshal(ex.Settings)
	if err != nil { // values were validated when committed; cannot happen
		return json.RawMessage("{}")
	}
	return raw
}
