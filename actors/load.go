package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
)

// loadResult is what activation found: the state at the journal's end.
type loadResult struct {
	st        *canvas.State
	streamSeq uint64
	cpSeq     uint64
	history   []recent
	// replayed is what the batches after the checkpoint touched: where
	// the store's checkpoint differs from st, deletions included.
	replayed dirtySet
}

// replayLimits are generous so that history written under older, looser
// limits always replays.
var replayLimits = canvas.Limits{MaxNodes: math.MaxInt32, MaxBatchOps: math.MaxInt32, MaxDataBytes: math.MaxInt32}

// load runs on a goroutine of the hub's background (see start): it claims
// the canvas (with Ownership), reads the checkpoint and replays the
// journal after it, then appends this incarnation's epoch marker, which
// fences any older owner still running. It takes at most LoadTimeout.
func (a *canvasActor) load(epoch string) {
	ctx, cancel := context.WithTimeout(context.Background(), a.hub.cfg.LoadTimeout)
	defer cancel()
	claim, err := a.claimCanvas(ctx)
	err = withReason(ReasonClaim, err)
	var res *loadResult
	if err == nil {
		res, err = a.loadState(ctx, epoch)
	}
	a.hub.system.Root.Send(a.self, &loaded{epoch: epoch, claim: claim, res: res, err: err})
}

func (a *canvasActor) loadState(ctx context.Context, epoch string) (*loadResult, error) {
	c, err := a.hub.cfg.Store.Canvas(ctx, a.id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, canvases.ErrNotFound
	}
	if err != nil {
		return nil, withReason(ReasonStore, fmt.Errorf("load canvas: %w", err))
	}
	cp, err := a.hub.cfg.Store.LoadCheckpoint(ctx, a.id)
	if err != nil {
		return nil, withReason(ReasonStore, fmt.Errorf("load checkpoint: %w", err))
	}
	st := stateFromStore(c, cp, replayLimits)
	res := &loadResult{st: st, cpSeq: cp.Seq, replayed: newDirtySet()}
	last, err := a.hub.cfg.Journal.Read(ctx, a.id, func(streamSeq uint64, rec journal.Record) error {
		return replay(st, res, streamSeq, rec)
	})
	if err != nil {
		return nil, withReason(ReasonJournal, err) // unless replay tagged it
	}
	st.SetLimits(a.hub.cfg.Limits)
	marker, _ := json.Marshal(journal.Record{Epoch: epoch})
	// Tried again while its outcome is unknown (a cluster electing the
	// journal's leader answers no request sent meanwhile): the message id
	// makes a marker that landed the first time answer with its sequence.
	for attempt := 1; ; attempt++ {
		try, cancel := context.WithTimeout(ctx, a.hub.cfg.AppendTimeout)
		res.streamSeq, err = a.hub.cfg.Journal.Append(try, a.id, last, epoch+":epoch", marker)
		cancel()
		if err == nil || ctx.Err() != nil || !journal.Unanswered(err) || attempt > a.hub.cfg.AppendRetries {
			break
		}
	}
	if err != nil {
		return nil, withReason(ReasonJournal, fmt.Errorf("append epoch marker: %w", err))
	}
	return res, nil
}

// replay applies the batches of one journal record that the checkpoint does
// not cover. A gap or a batch that does not apply means the journal and the
// checkpoint disagree: loading fails loudly rather than guessing.
func replay(st *canvas.State, res *loadResult, streamSeq uint64, rec journal.Record) error {
	for _, raw := range rec.Batches {
		// Most of a reload is batches the checkpoint covers: read only
		// what the history needs of those, not their ops.
		var c journal.Committed
		var head struct {
			Seq           uint64 `json:"seq"`
			Author        string `json:"author"`
			ClientBatchID string `json:"cbid"`
			Ops           json.RawMessage
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("replay: record %d: %w", streamSeq, err)
		}
		res.history = append(res.history, recent{seq: head.Seq, raw: raw, streamSeq: streamSeq, key: dedupeKey(head.Author, head.ClientBatchID)})
		if head.Seq <= st.Seq {
			continue
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("replay: record %d: %w", streamSeq, err)
		}
		if c.Seq != st.Seq+1 {
			return withReason(ReasonJournalGap, fmt.Errorf("replay: journal jumps from seq %d to %d at record %d", st.Seq, c.Seq, streamSeq))
		}
		u, err := st.Apply(c.Batch())
		if err != nil {
			return withReason(ReasonReplay, fmt.Errorf("replay: seq %d does not apply: %w", c.Seq, err))
		}
		res.replayed.mark(u)
	}
	return nil
}

// onLoaded makes the actor live with what the activation found, or retires
// it: a canvas another node owns answers every request with the
// activation's *canvases.NotOwnerError, so that a caller learns the
// holder. A claim made for a canvas that is not found, or whose loading
// failed, is given back as the actor stops.
func (a *canvasActor) onLoaded(ctx actor.Context, m *loaded) {
	if a.phase == phaseStopping {
		// Passivated while it claimed and loaded (see onPassivate).
		a.stop(ctx)
		return
	}
	var notOwner *canvases.NotOwnerError
	switch {
	case m.err == nil:
	case errors.As(m.err, &notOwner):
		a.log.Debug("canvas owned by another node", "holder", notOwner.Holder)
		a.retire(ctx, m.err)
		return
	case errors.Is(m.err, canvases.ErrNotFound):
		a.hub.failures.loaded(a.id)
		a.retire(ctx, canvases.ErrNotFound)
		return
	default:
		a.hub.failures.failed(a.id, m.err)
		a.fail(ctx, "activation failed", m.err)
		return
	}
	a.hub.failures.loaded(a.id)
	if m.claim != nil {
		a.claim = m.claim
		a.watchClaim()
	}
	r := m.res
	a.st, a.streamSeq, a.committed = r.st, r.streamSeq, r.st.Seq
	a.cp.seq = r.cpSeq
	for _, h := range r.history {
		a.remember(h)
	}
	// What the replayed batches touched is newer than the checkpoint.
	a.cp.dirty.merge(&r.replayed)
	a.phase = phaseLive
	a.after(a.hub.cfg.IdleTimeout, &idleCheck{epoch: a.epoch})
	a.after(a.tickInterval(true), &checkpointTick{epoch: a.epoch})
	a.log.Debug("canvas activated", "seq", a.committed, "checkpoint_seq", a.cp.seq, "nodes", len(a.st.Nodes))
	a.expireAIRuns(true)
	queue := a.queue
	a.queue = nil
	for _, env := range queue {
		a.request(ctx, env)
	}
}

// stateFromStore builds a State from the store's metadata and checkpoint.
// Numbers are held as Apply holds them, -0 as 0, also when a checkpoint
// written before Apply did so has a negative zero.
func stateFromStore(c store.Canvas, cp store.Checkpoint, limits canvas.Limits) *canvas.State {
	meta := canvas.Meta{Title: c.Title, Settings: rawObject(c.Settings)}
	st := canvas.NewState(c.ID, meta, limits)
	st.Seq = cp.Seq
	for _, n := range cp.Nodes {
		st.PutNode(&canvas.Node{
			ID: n.ID, Kind: n.Kind, X: canvas.PositiveZero(n.X), Y: canvas.PositiveZero(n.Y), W: n.W, H: n.H, Z: n.Z,
			Data: rawObject(n.Data), Author: n.AuthorID,
			CreatedAt: n.CreatedAt.UnixMilli(), UpdatedAt: n.UpdatedAt.UnixMilli(),
		})
	}
	for _, e := range cp.Edges {
		st.PutEdge(&canvas.Edge{
			ID: e.ID, Source: e.Source, Target: e.Target, Kind: e.Kind,
			Data: rawObject(e.Data), Author: e.AuthorID, CreatedAt: e.CreatedAt.UnixMilli(),
		})
	}
	for _, c := range cp.Comments {
		var cm canvas.Comment
		if err := json.Unmarshal(c.Body, &cm); err != nil || cm.ID != c.ID {
			continue // not written by SaveCheckpoint: nothing to show
		}
		st.PutComment(&cm)
	}
	return st
}

// rawObject decodes a JSON object column; anything else becomes {}.
func rawObject(b []byte) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	for k, v := range m {
		m[k] = canvas.PositiveZeros(v)
	}
	return m
}

func toRaw(in []json.RawMessage) []json.RawMessage { return in }
