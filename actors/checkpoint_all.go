package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/skerhq/sker/canvases"
)

// checkpointNow asks the actor to checkpoint every batch committed so
// far; the answer, once the store has them, is a *checkpointResult.
type checkpointNow struct {
	request
	Canvas string
	// Seq is the least seq the checkpoint must reach: the last batch the
	// caller saw in the journal.
	Seq uint64
}

func (m *checkpointNow) canvasID() string { return m.Canvas }

type checkpointResult struct {
	Seq uint64 // the store's checkpoint seq
}

// cpWaiter is a checkpointNow waiting for the checkpoint that reaches seq.
type cpWaiter struct {
	seq   uint64
	reply reply
}

// ErrCheckpointBehind: a canvas's actor holds fewer batches than the
// journal showed the caller. It comes wrapped with canvases.ErrUnavailable:
// the actor sees the acknowledgement in a moment, so a retry succeeds.
var ErrCheckpointBehind = errors.New("actors: canvas holds fewer batches than the journal")

// Checkpoint makes the store's checkpoint of a canvas cover every batch
// committed when the canvas gets the request, and at least seq, activating
// the canvas if it is not live (it loads the checkpoint and replays the
// journal, as for any request). It returns the store's checkpoint seq once
// the store has it. A backup calls it for every canvas whose journal holds
// batches beyond its checkpoint, so that a copy of the store alone has
// every acknowledged change.
//
// canvases.ErrUnavailable (the canvas is stopping, or its checkpoint
// failed) is worth a retry; canvases.ErrNotFound means it was deleted.
func (h *Hub) Checkpoint(ctx context.Context, canvasID string, seq uint64) (uint64, error) {
	res, err := ask[*checkpointResult](ctx, h, &checkpointNow{Canvas: canvasID, Seq: seq})
	if err != nil {
		return 0, err
	}
	return res.Seq, nil
}

func (a *canvasActor) onCheckpointNow(m *checkpointNow) {
	if m.Seq > a.committed {
		m.answer(fmt.Errorf("%w: %w: canvas %s at seq %d, asked for %d", canvases.ErrUnavailable, ErrCheckpointBehind, a.id, a.committed, m.Seq))
		return
	}
	if a.cp.seq >= a.committed {
		m.answer(&checkpointResult{Seq: a.cp.seq})
		return
	}
	a.cpWaiters = append(a.cpWaiters, cpWaiter{seq: a.committed, reply: m.reply})
	a.startCheckpoint() // when one is running, onCheckpointDone starts the next
}

// answerCheckpointWaiters answers the waiters the store's checkpoint now
// covers, or every waiter with the checkpoint's error; it reports whether
// some still wait for a later checkpoint.
func (a *canvasActor) answerCheckpointWaiters(err error) bool {
	kept := a.cpWaiters[:0]
	for _, w := range a.cpWaiters {
		switch {
		case err != nil:
			w.reply.send(fmt.Errorf("%w: checkpoint failed: %v", canvases.ErrUnavailable, err))
		case w.seq <= a.cp.seq:
			w.reply.send(&checkpointResult{Seq: a.cp.seq})
		default:
			kept = append(kept, w)
		}
	}
	clear(a.cpWaiters[len(kept):])
	a.cpWaiters = kept
	return len(kept) > 0
}

// failCheckpointWaiters answers every waiter with err.
func (a *canvasActor) failCheckpointWaiters(err error) {
	for _, w := range a.cpWaiters {
		w.reply.send(err)
	}
	a.cpWaiters = nil
}
