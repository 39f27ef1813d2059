package actors

import (
	"encoding/json"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/skerhq/sker/canvas"
)

// canvasMsg is a request routed to the actor of one canvas.
type canvasMsg interface {
	canvasID() string
	req() *request
}

// reply is where the answer to one request goes: a channel with room for
// that answer, so the actor never waits for a caller, and an answer that
// comes after its caller gave up is dropped with the channel. Unlike a
// protoactor future it needs no process registered per request and no
// timer of its own.
type reply chan any

func newReply() reply { return make(reply, 1) }

// send delivers the answer; a nil reply drops it.
func (r reply) send(v any) {
	select {
	case r <- v:
	default:
	}
}

// request is embedded in every canvasMsg: reply is where its answer goes,
// nil when nobody waits for one.
type request struct {
	reply reply
	// viaSupervisor: the Hub sent the request through the supervisor and
	// counts it in routes until the supervisor has routed it.
	viaSupervisor bool
}

func (r *request) req() *request { return r }

// answer sends the answer to the request.
func (r *request) answer(v any) { r.reply.send(v) }

// IgnoreDeadLetterLogging: a request that reaches no actor is answered
// canvases.ErrUnavailable by the Hub (see NewHub) rather than logged.
func (*request) IgnoreDeadLetterLogging() {}

// submit asks the actor to commit a batch; the answer is a *submitResult.
type submit struct {
	request
	Canvas        string
	Author        string
	ClientBatchID string
	Ops           []canvas.Op
}

type submitResult struct {
	Seq uint64
	Err error // *canvas.OpError, canvases.ErrUnavailable, canvases.ErrOutcomeUnknown
}

// getSnapshot asks for the committed state; the answer is a *snapshotResult.
type getSnapshot struct {
	request
	Canvas string
}

type snapshotResult struct {
	Export canvas.Export
	Err    error
}

// getSince asks for the committed batches after a seq; the answer is a
// *sinceResult with the batches, or with a snapshot when the history kept
// does not reach back that far.
type getSince struct {
	request
	Canvas string
	Since  uint64
	// Limit caps the number of batches (0: all kept).
	Limit int
}

type sinceResult struct {
	Seq      uint64            // the canvas's committed seq
	Batches  []json.RawMessage // encoded journal.Committed, in seq order
	Snapshot *canvas.Export    // set instead of Batches when history is short
	Err      error
}

// forget tells the actor its canvas was deleted: it stops without a
// checkpoint and answers canvases.ErrNotFound meanwhile. The answer is nil.
type forget struct {
	request
	Canvas string
}

func (m *forget) canvasID() string      { return m.Canvas }
func (m *submit) canvasID() string      { return m.Canvas }
func (m *getSnapshot) canvasID() string { return m.Canvas }
func (m *getSince) canvasID() string    { return m.Canvas }

// Internal messages of the canvas actor. Each carries the epoch of the
// incarnation that started the work, so a result that outlives a restart is
// ignored.
type (
	loaded struct {
		epoch string
		claim Claim // the incarnation's claim (also in its hold); nil without Ownership
		res   *loadResult
		err   error
	}
	appendDone struct {
		epoch     string
		streamSeq uint64
		err       error
	}
	checkpointDone struct {
		epoch string
		seq   uint64
		err   error
	}
	checkpointTick struct{ epoch string }
	// idleCheck: the actor's own timer; see onIdleCheck.
	idleCheck struct{ epoch string }
	// claimLost: the actor's claim stopped being valid (see watchClaim).
	claimLost struct{ epoch string }
	// claimReleased: the stopping actor gave its claim back (see stop).
	claimReleased struct{ epoch string }
	// idle: a child tells the supervisor it has been idle long enough.
	idle struct {
		canvas string
		pid    *actor.PID
	}
	// retire: a child tells the supervisor to route no more to it.
	retire struct {
		canvas string
		pid    *actor.PID
	}
	// passivate: the supervisor tells a child to finish and stop. answer
	// is what the requests still queued for a loading child get; nil:
	// canvases.ErrUnavailable.
	passivate struct{ answer error }
	// handoff asks the supervisor to passivate a canvas for another node
	// to own it; reply gets nil once its actor has stopped (see
	// Hub.Handoff).
	handoff struct {
		canvas string
		reply  reply
	}
	// listOwned asks the supervisor for the canvases whose actors take
	// requests; the answer, a []string, goes to reply.
	listOwned struct{ reply reply }
	// getEpoch asks a canvas's actor, through the supervisor and only if
	// it is active, for its epoch; the answer is an *epochResult.
	getEpoch struct {
		canvas string
		reply  reply
	}
	// stopAll: the supervisor passivates every child and closes done when
	// all have stopped.
	stopAll struct{ done chan struct{} }
	// countActive asks the supervisor how many canvases are active; the
	// answer, an int, goes to reply.
	countActive struct{ reply reply }
)

// epochResult answers getEpoch; ok is false when the canvas is not live.
type epochResult struct {
	epoch string
	seq   uint64
	ok    bool
}

// crash makes the canvas actor panic, to exercise supervision; only the
// package's tests send it.
type crash struct {
	request
	Canvas string
}

func (m *crash) canvasID() string { return m.Canvas }
