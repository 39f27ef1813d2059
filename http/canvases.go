package skerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
)

// Canvases is what the handlers need of the canvas actors: every change to
// a canvas's content or metadata goes through Submit, so that it is ordered,
// journaled and fanned out like a change from a WebSocket client.
// *actors.Hub implements it.
//
// Errors are those of package actors: a *canvas.OpError for a rejected
// batch, actors.ErrCanvasNotFound, actors.ErrUnavailable,
// actors.ErrOutcomeUnknown and, from History, actors.ErrHistoryTrimmed
// (returned with the canvas's current seq).
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

// canvasError maps an error of Canvases to what the client may learn. Other
// errors pass through, to become a logged 500.
func canvasError(err error) error {
	var opErr *canvas.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &opErr):
		return opErr.API()
	case errors.Is(err, actors.ErrCanvasNotFound):
		return apierr.NotFound("canvas")
	case errors.Is(err, actors.ErrUnavailable):
		return apierr.New(http.StatusServiceUnavailable, apierr.CodeUnavailable,
			"the canvas is not available right now; nothing was changed, retry shortly")
	case errors.Is(err, actors.ErrOutcomeUnknown):
		return apierr.New(http.StatusServiceUnavailable, apierr.CodeOutcomeUnknown,
			"the change may or may not have been committed; check the canvas's history or snapshot before retrying")
	case errors.Is(err, actors.ErrHistoryTrimmed):
		return apierr.New(http.StatusGone, apierr.CodeHistoryTrimmed,
			"the changes asked for are older than the history kept; take a snapshot (GET /api/v1/canvases/{id}) instead")
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
