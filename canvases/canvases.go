package canvases

import (
	"context"

	"github.com/skerhq/sker/canvas"
)

// Canvases is the canvas contract. A canvas is named by its id; every
// method answers for one canvas. Errors are this package's (ErrNotFound,
// ErrUnavailable, ErrOutcomeUnknown, ErrHistoryTrimmed, ErrStaleRun, most
// often wrapped with detail) or a *canvas.OpError for a rejected batch;
// APIError turns any of them into what a client may see.
//
// Every call stops waiting when its ctx ends, with an error that is ctx's
// error (errors.Is). A call whose ctx had ended already does nothing. When
// ctx ends while the canvas has yet to answer, the error is also
// ErrOutcomeUnknown for a batch (it was sent, and may still be committed)
// and ErrUnavailable for anything else.
type Canvases interface {
	// Submit commits ops as one batch by author and returns its seq once
	// the journal has it. A rejected batch returns a *canvas.OpError and
	// changes nothing. A batch sent again with the same author and
	// clientBatchID, while the first is in the history kept, is answered
	// with the first one's seq. The caller has checked that author may
	// edit the canvas.
	Submit(ctx context.Context, canvasID, author, clientBatchID string, ops []canvas.Op) (uint64, error)
	// SubmitAsync is Submit without waiting; it does not block. Batches
	// submitted by one goroutine are committed in the order they were
	// submitted, so a connection can pipeline its batches and keep its
	// order. The returned function waits for the outcome.
	SubmitAsync(canvasID, author, clientBatchID string, ops []canvas.Op) func(context.Context) (uint64, error)
	// Snapshot returns the committed state of a canvas.
	Snapshot(ctx context.Context, canvasID string) (canvas.Export, error)
	// Since returns what a client that has seen up to seq needs to catch
	// up: the batches after it, or a snapshot.
	Since(ctx context.Context, canvasID string, seq uint64) (CatchUp, error)
	// History returns up to limit encoded batches after since (each an
	// encoded journal.Committed, in seq order) and the canvas's current
	// seq; ErrHistoryTrimmed, with the current seq, when they are older
	// than the history kept.
	History(ctx context.Context, canvasID string, since uint64, limit int) ([][]byte, uint64, error)
	// Forget stops a deleted canvas (without a checkpoint) and removes its
	// journal. Call it after deleting the canvas from the store, so that
	// nothing can load it again.
	Forget(ctx context.Context, canvasID string) error
	// FinishAIRun commits an AI run's result to its card; ErrStaleRun when
	// the card no longer runs that run (the result is dropped).
	FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, r AIResult) error
}

// CatchUp is the answer to Since: the batches after the seq asked for, or a
// snapshot when the history kept does not reach back that far.
type CatchUp struct {
	Seq      uint64         // the canvas's seq the catch-up brings the client to
	Batches  [][]byte       // each an encoded journal.Committed, in seq order
	Snapshot *canvas.Export // set instead of Batches
}

// AIResult is how an AI run ended, as the AI engine reports it.
type AIResult struct {
	Status       string // the card's status after the run: done, error or cancelled
	Text         string
	Error        string
	InputTokens  int
	OutputTokens int
}
