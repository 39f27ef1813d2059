package actors

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

type phase int

const (
	phaseLoading  phase = iota // reading checkpoint and journal; requests wait
	phaseLive                  // taking requests
	phaseStopping              // finishing work before stopping; takes none
	phaseFailed                // lost ownership or failed to load; answers failErr
)

// canvasActor owns one canvas. All fields are touched only inside Receive,
// on the actor's goroutine; slow work (journal appends, store writes,
// loading) runs in goroutines that report back with a message carrying the
// epoch of the incarnation that started it.
type canvasActor struct {
	hub   *Hub
	id    string
	log   *slog.Logger
	epoch string // random id of this incarnation; also the journal epoch marker
	// requested: a request came since the last idle check.
	requested bool
	phase     phase
	self      *actor.PID

	// hold and claim are the incarnation's claim on the canvas (with
	// Ownership): hold from start, claim once loaded. releasing: stop is
	// giving it back, and the actor stops when that is done.
	hold      *claimHold
	claim     Claim
	releasing bool

	queue   []canvasMsg // requests that arrived while loading
	failErr error       // the answer to every request once failed

	st        *canvas.State
	streamSeq uint64 // stream sequence of the canvas's last journal record (the fence)
	committed uint64 // seq of the last batch the journal holds
	history   *ring

	pending  []*entry // applied to st, not yet sent to the journal
	inflight []*entry // in the journal append in flight
	attempt  int      // retries of the append in flight

	cp checkpointer
	// metaWaiters are committed title/settings changes whose senders wait
	// for the checkpoint that puts them in the store.
	metaWaiters []*entry
	// cpWaiters are Hub.Checkpoint requests waiting for the store.
	cpWaiters []cpWaiter

	// A batch sent again with the same client batch id by the same author
	// (a client resending after a dropped connection) is answered with the
	// first one's outcome instead of being applied twice: seen holds the
	// keys of the batches in history, inFlight those not committed yet.
	seen     map[string]uint64
	inFlight map[string]*entry

	fanout *nats.Msg // reused for every fanout publish (see publish)
}

// entry is one accepted batch on its way to the journal.
type entry struct {
	seq   uint64
	raw   []byte // encoded journal.Committed
	ops   int
	undo  *canvas.Undo
	reply reply       // nil for the actor's own batches
	after afterCommit // side effect once committed, or nil
	key   string      // dedupe key, or ""
	dups  []reply     // senders of the same batch again, answered with it
}

// answer sends res to the batch's sender and to any sender of the same
// batch again.
func (e *entry) answer(res *submitResult) {
	e.reply.send(res)
	for _, d := range e.dups {
		d.send(res)
	}
}

func newCanvasActor(h *Hub, id string) *canvasActor {
	return &canvasActor{hub: h, id: id, log: h.cfg.Logger.With("canvas_id", id)}
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Receive is the actor's only entry point.
func (a *canvasActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case *actor.Restarting:
		a.failAll(canvases.ErrUnavailable)
		a.abandonClaim()
	case *actor.Stopping:
		a.failAll(canvases.ErrUnavailable)
		a.abandonClaim()
	case *loaded:
		if m.epoch == a.epoch {
			a.onLoaded(ctx, m)
		}
	case *claimLost:
		if m.epoch == a.epoch {
			a.onClaimLost(ctx)
		}
	case *claimReleased:
		if m.epoch == a.epoch {
			ctx.Stop(ctx.Self())
		}
	case *getEpoch:
		if a.phase == phaseLive {
			m.reply.send(&epochResult{epoch: a.epoch, seq: a.committed, ok: true})
		} else {
			m.reply.send(&epochResult{})
		}
	case *appendDone:
		if m.epoch == a.epoch {
			a.onAppendDone(ctx, m)
		}
	case *checkpointDone:
		if m.epoch == a.epoch {
			a.onCheckpointDone(ctx, m)
		}
	case *retryAppend:
		if m.epoch == a.epoch && a.inflight != nil {
			a.sendAppend()
		}
	case *aiExpireTick:
		if m.epoch == a.epoch && a.phase == phaseLive {
			a.expireAIRuns(false)
		}
	case *checkpointTick:
		if m.epoch == a.epoch {
			a.onTick()
		}
	case *idleCheck:
		if m.epoch == a.epoch {
			a.onIdleCheck(ctx)
		}
	case *passivate:
		a.onPassivate(ctx, m)
	case canvasMsg:
		a.request(ctx, m)
	}
}

func (a *canvasActor) start(ctx actor.Context) {
	a.epoch = newEpoch()
	a.self = ctx.Self()
	a.phase = phaseLoading
	a.history = newRing(a.hub.cfg.History, a.hub.cfg.HistoryBytes)
	a.seen, a.inFlight = map[string]uint64{}, map[string]*entry{}
	a.cp = newCheckpointer()
	if a.hub.cfg.Ownership != nil {
		a.hold = &claimHold{}
	}
	epoch := a.epoch
	a.hub.background(func() { a.load(epoch) })
}

// request handles a routed request according to the phase.
func (a *canvasActor) request(ctx actor.Context, msg canvasMsg) {
	a.requested = true
	switch a.phase {
	case phaseLoading:
		a.queue = append(a.queue, msg)
		return
	case phaseStopping:
		msg.req().answer(canvases.ErrUnavailable)
		return
	case phaseFailed:
		msg.req().answer(a.failErr)
		return
	}
	switch m := msg.(type) {
	case *submit:
		a.onSubmit(m)
	case *getSnapshot:
		m.answer(&snapshotResult{Export: a.committedExport()})
	case *getSince:
		a.onSince(m)
	case *checkpointNow:
		a.onCheckpointNow(m)
	case *aiFinish:
		a.onAIFinish(m)
	case *crash:
		panic("canvas actor: crash requested")
	case *forget:
		a.cancelAllRuns()
		a.cp = newCheckpointer() // nothing left to checkpoint
		a.cp.seq = a.committed
		a.retire(ctx, canvases.ErrNotFound)
		m.answer(true)
	}
}

func (a *canvasActor) onSince(m *getSince) {
	batches, ok := a.history.since(m.Since, a.committed, m.Limit)
	if ok {
		m.answer(&sinceResult{Seq: a.committed, Batches: toRaw(batches)})
		return
	}
	ex := a.committedExport()
	m.answer(&sinceResult{Seq: a.committed, Snapshot: &ex})
}

// onIdleCheck runs every IdleTimeout while the canvas is live: it asks the
// supervisor to passivate the canvas when no request came since the last
// check and nothing is in flight, so an idle canvas stops between one and
// two IdleTimeouts after its last request. The actor's own timer and flag
// replace protoactor's receive timeout, whose timer goroutine writes the
// actor context's fields while the actor reads them.
func (a *canvasActor) onIdleCheck(ctx actor.Context) {
	if a.phase != phaseLive {
		return
	}
	if a.requested || len(a.pending) > 0 || a.inflight != nil {
		a.requested = false
		a.after(a.hub.cfg.IdleTimeout, &idleCheck{epoch: a.epoch})
		return
	}
	ctx.Send(ctx.Parent(), &idle{canvas: a.id, pid: ctx.Self()})
}

// onPassivate stops taking requests, lets the append in flight finish,
// writes a final checkpoint, gives the claim back and stops.
func (a *canvasActor) onPassivate(ctx actor.Context, m *passivate) {
	if a.phase == phaseLoading {
		// The supervisor stops routing to a loading actor only at shutdown
		// and at a handoff.
		a.phase = phaseStopping
		answer := m.answer
		if answer == nil {
			answer = canvases.ErrUnavailable
		}
		a.failQueue(answer)
		if a.hold == nil {
			ctx.Stop(ctx.Self())
		}
		// Else it stops once the activation is done (see onLoaded), so
		// that the claim it may be making is given back before it stops.
		return
	}
	if a.phase == phaseFailed {
		a.stop(ctx)
		return
	}
	a.phase = phaseStopping
	a.maybeFinish(ctx)
}

// maybeFinish stops a stopping actor once its work has drained and its
// final checkpoint is written (or failed: the journal still has it all).
func (a *canvasActor) maybeFinish(ctx actor.Context) {
	if a.phase != phaseStopping || a.inflight != nil || len(a.pending) > 0 {
		return
	}
	if a.cp.running {
		return
	}
	if a.committed > a.cp.seq && !a.cp.finalTried {
		a.cp.finalTried = true
		a.startCheckpoint()
		if a.cp.running {
			return
		}
	}
	a.log.Debug("canvas passivated", "seq", a.committed)
	a.stop(ctx)
}

// fail makes the actor refuse all work and asks the supervisor to route no
// more to it; it stops when the supervisor answers with passivate, so the
// requests already routed to it are answered, not lost.
func (a *canvasActor) fail(ctx actor.Context, reason string, err error) {
	a.log.Error("canvas actor stops", "reason", reason, "err", err, "seq", a.committed)
	a.retire(ctx, canvases.ErrUnavailable)
}

func (a *canvasActor) retire(ctx actor.Context, answer error) {
	released := a.phase == phaseStopping // passivate came: nothing is routed here any more
	a.phase = phaseFailed
	a.failErr = answer
	a.failQueue(answer)
	a.failAll(canvases.ErrUnavailable)
	if released {
		a.stop(ctx)
		return
	}
	ctx.Send(ctx.Parent(), &retire{canvas: a.id, pid: ctx.Self()})
}

// failAll answers every waiting request with err. Batches in pending were
// never sent to the journal, so canvases.ErrUnavailable is the truth for them.
func (a *canvasActor) failAll(err error) {
	a.failQueue(err)
	a.releaseMetaWaiters(^uint64(0)) // committed: the journal has them
	a.failCheckpointWaiters(err)
	for _, e := range a.pending {
		e.answer(&submitResult{Err: err})
	}
	a.pending = nil
	for _, e := range a.inflight {
		e.answer(&submitResult{Err: canvases.ErrOutcomeUnknown})
	}
	clear(a.inFlight)
	a.inflight = nil
}

func (a *canvasActor) failQueue(err error) {
	for _, m := range a.queue {
		m.req().answer(err)
	}
	a.queue = nil
}

// releaseMetaWaiters acknowledges the waiting metadata changes up to seq.
func (a *canvasActor) releaseMetaWaiters(upTo uint64) {
	kept := a.metaWaiters[:0]
	for _, e := range a.metaWaiters {
		if e.seq <= upTo {
			e.answer(&submitResult{Seq: e.seq})
		} else {
			kept = append(kept, e)
		}
	}
	a.metaWaiters = kept
}

// cancelAllRuns cancels every AI run of the canvas (it is being deleted).
func (a *canvasActor) cancelAllRuns() {
	eng := a.hub.cfg.AI
	if eng == nil || a.st == nil {
		return
	}
	for _, n := range a.st.Nodes {
		if run, ok := aicard.Running(n); ok {
			eng.Cancel(run)
		}
	}
}

func (a *canvasActor) now() int64 { return a.hub.cfg.Now().UnixMilli() }

// after sends msg to the actor after d.
func (a *canvasActor) after(d time.Duration, msg any) {
	self, root := a.self, a.hub.system.Root
	time.AfterFunc(d, func() { root.Send(self, msg) })
}
