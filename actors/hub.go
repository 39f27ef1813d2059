package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// Config configures a Hub. Zero durations and counts take the documented
// defaults.
type Config struct {
	Store   store.Store
	Journal *journal.Journal
	// Conn publishes committed batches for the gateways.
	Conn   *nats.Conn
	Logger *slog.Logger
	Limits canvas.Limits
	// Registerer receives the actors' metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer

	// Names gives the subject committed batches are fanned out on
	// (Names.Changes); zero means natsname.Default(). The gateways and the
	// journal must have the same.
	Names natsname.Names
	// IdleTimeout passivates a canvas with no request for this long (it is
	// checked every IdleTimeout, so the canvas stops within two); default
	// 5m.
	IdleTimeout time.Duration
	// HandoffGrace is how long, after Handoff, a request for the canvas is
	// answered with a *canvases.NotOwnerError instead of activating it
	// here again, so that the routing layer finds the new owner rather
	// than take the canvas back; default 5s.
	HandoffGrace time.Duration
	// CheckpointOps checkpoints after this many committed ops; default 1000.
	CheckpointOps int
	// CheckpointInterval checkpoints changes at least this often; default 30s.
	CheckpointInterval time.Duration
	// History is how many recent batches each canvas keeps for catch-up
	// (in memory and, at least, in the journal); default 1000.
	History int
	// HistoryBytes caps the encoded size of those batches per canvas, so
	// that large batches cannot make a canvas hold gigabytes; the newest
	// batch is always kept. Default 8 MiB.
	HistoryBytes int
	// MaxRecordBytes caps one journal record, so one batch; default 900 KiB
	// (under NATS's default 1 MiB max payload).
	MaxRecordBytes int
	// AskTimeout bounds the wait for a canvas actor's answer to a request
	// (a caller's ctx may end it sooner); default 10s.
	AskTimeout time.Duration
	// LoadTimeout bounds an activation: claiming the canvas (with
	// Ownership), reading the canvas and its checkpoint from the store,
	// replaying its journal and appending the epoch marker. Zero means
	// 3 * AskTimeout.
	LoadTimeout time.Duration
	// CheckpointTimeout bounds one checkpoint write to the store. Zero
	// means 3 * AskTimeout.
	CheckpointTimeout time.Duration
	// TrimTimeout bounds one journal trim, the wait for the node's one trim
	// slot included; a trim that does not start in time is left to the
	// next. Default 10s.
	TrimTimeout time.Duration
	// AppendTimeout bounds one journal append attempt; default 5s.
	AppendTimeout time.Duration
	// AppendRetries is how many times an append whose outcome is unknown is
	// retried (with the same message id) before giving up; default 8.
	AppendRetries int
	// Ownership claims each canvas before its actor loads it, and the
	// actor gives the claim back when it stops; nil: this node owns every
	// canvas it activates (a node alone).
	Ownership Ownership
	// AI runs AI cards; nil makes every run end with an error on its card.
	AI AIEngine
	// AIRunTimeout is how long a run may take; a card still running
	// min(AIRunTimeout, 30s) after that is marked failed. Default 2m.
	AIRunTimeout time.Duration
	// AIEnqueueTimeout bounds putting a run's job on the AI work queue
	// and, when that fails, marking the card failed; default 10s.
	AIEnqueueTimeout time.Duration
	// AIContextTokens is the budget of upstream context per run, estimated
	// at four bytes a token; default 6000.
	AIContextTokens int
	// KeepPoint keeps an automatic version of a canvas's history (package
	// versions) from a checkpoint: called with the committed state the
	// checkpoint wrote, once it is saved and before the journal is trimmed
	// after it, at most once per PointSpacing per canvas. Nil keeps none.
	KeepPoint func(ctx context.Context, canvasID string, ex canvas.Export) error
	// PointSpacing is the least time between two automatic points of a
	// canvas; default 10m.
	PointSpacing time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.HandoffGrace <= 0 {
		c.HandoffGrace = 5 * time.Second
	}
	if c.CheckpointOps <= 0 {
		c.CheckpointOps = 1000
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 30 * time.Second
	}
	if c.HistoryBytes <= 0 {
		c.HistoryBytes = 8 << 20
	}
	if c.History <= 0 {
		c.History = 1000
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 900 << 10
	}
	if c.AskTimeout <= 0 {
		c.AskTimeout = 10 * time.Second
	}
	if c.LoadTimeout <= 0 {
		c.LoadTimeout = 3 * c.AskTimeout
	}
	if c.CheckpointTimeout <= 0 {
		c.CheckpointTimeout = 3 * c.AskTimeout
	}
	if c.TrimTimeout <= 0 {
		c.TrimTimeout = 10 * time.Second
	}
	if c.AppendTimeout <= 0 {
		c.AppendTimeout = 5 * time.Second
	}
	if c.AppendRetries <= 0 {
		c.AppendRetries = 8
	}
	if c.AIRunTimeout <= 0 {
		c.AIRunTimeout = 2 * time.Minute
	}
	if c.AIEnqueueTimeout <= 0 {
		c.AIEnqueueTimeout = 10 * time.Second
	}
	if c.AIContextTokens <= 0 {
		c.AIContextTokens = 6000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PointSpacing <= 0 {
		c.PointSpacing = 10 * time.Minute
	}
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("actors: Config.Store is required")
	case c.Journal == nil:
		return errors.New("actors: Config.Journal is required")
	case c.Conn == nil:
		return errors.New("actors: Config.Conn is required")
	}
	return nil
}

// Hub is the node's set of canvas actors under one supervisor: the local
// implementation of the canvas contract.
type Hub struct {
	cfg         Config
	system      *actor.ActorSystem
	super       *actor.PID
	workers     *workers // run the actors' mailboxes and journal appends
	routes      *routes  // live canvases that take requests directly
	deadLetters *eventstream.Subscription
	shutdown    sync.Once
	metrics     *metrics
	failures    *loadFailures // canvases whose last load failed
	// bg counts the goroutines the actors start for slow work (loads,
	// checkpoints, journal trims, AI enqueues); Shutdown waits for them
	// once every actor has stopped, so none is added after.
	bg    sync.WaitGroup
	trims chan struct{} // one slot: the node trims one canvas's journal at a time
	// claimLocks order the claims of one canvas's successive actors here.
	claimLocks *claimLocks
}

var _ canvases.Canvases = (*Hub)(nil)

// maxIdleWorkers bounds the goroutines kept waiting for mailbox or append
// work (each holds the stack it has grown).
const maxIdleWorkers = 256

// NewHub starts the actor system and the canvases supervisor.
func NewHub(cfg Config) (*Hub, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "actors")
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return log.With("lib", "protoactor")
	}))
	h := &Hub{cfg: cfg, system: system, workers: newWorkers(maxIdleWorkers), routes: newRoutes(), metrics: newMetrics(cfg.Registerer),
		trims: make(chan struct{}, 1), claimLocks: newClaimLocks(), failures: newLoadFailures(cfg.Registerer, log)}
	// A request that reaches a stopped actor is answered at once, as a
	// protoactor future is, instead of leaving its caller to time out.
	h.deadLetters = system.EventStream.Subscribe(func(evt any) {
		if dl, ok := evt.(*actor.DeadLetterEvent); ok {
			switch m := dl.Message.(type) {
			case canvasMsg:
				m.req().answer(fmt.Errorf("%w: %v", canvases.ErrUnavailable, actor.ErrDeadLetter))
			case *getEpoch:
				m.reply.send(&epochResult{}) // it stopped: not live
			}
		}
	})
	props := actor.PropsFromProducer(func() actor.Actor { return newSupervisor(h) },
		actor.WithSupervisor(canvasStrategy(log)), actor.WithDispatcher(h.workers))
	pid, err := system.Root.SpawnNamed(props, "canvases")
	if err != nil {
		return nil, fmt.Errorf("actors: spawn supervisor: %w", err)
	}
	h.super = pid
	return h, nil
}

// Submit commits ops to a canvas and returns the batch's seq once the
// journal has it. A rejected batch returns a *canvas.OpError and changes
// nothing. The caller has checked that author may edit the canvas.
func (h *Hub) Submit(ctx context.Context, canvasID, author, clientBatchID string, ops []canvas.Op) (uint64, error) {
	res, err := ask[*submitResult](ctx, h, &submit{Canvas: canvasID, Author: author, ClientBatchID: clientBatchID, Ops: ops})
	if err != nil {
		return 0, err
	}
	return res.Seq, res.Err
}

// SubmitAsync is Submit without waiting: batches sent by one goroutine reach
// the canvas in the order they were sent, so a connection can pipeline its
// batches and still have them committed in its order. The returned function
// waits for the outcome, at most AskTimeout after the batch was sent; when
// its ctx ends first it returns canvases.ErrOutcomeUnknown wrapping ctx's
// error, since the batch may still be committed.
func (h *Hub) SubmitAsync(canvasID, author, clientBatchID string, ops []canvas.Op) func(context.Context) (uint64, error) {
	msg := &submit{request: request{reply: newReply()}, Canvas: canvasID, Author: author, ClientBatchID: clientBatchID, Ops: ops}
	deadline := time.Now().Add(h.cfg.AskTimeout)
	h.send(msg)
	return func(ctx context.Context) (uint64, error) {
		res, err := result[*submitResult](ctx, msg, deadline)
		if err != nil {
			return 0, err
		}
		return res.Seq, res.Err
	}
}

// Snapshot returns the committed state of a canvas.
func (h *Hub) Snapshot(ctx context.Context, canvasID string) (canvas.Export, error) {
	res, err := ask[*snapshotResult](ctx, h, &getSnapshot{Canvas: canvasID})
	if err != nil {
		return canvas.Export{}, err
	}
	return res.Export, res.Err
}

// Forget stops the actor of a deleted canvas (without a checkpoint) and
// removes the canvas's journal. Call it after deleting the canvas from the
// store, so that no new activation can find it.
func (h *Hub) Forget(ctx context.Context, canvasID string) error {
	if _, err := ask[bool](ctx, h, &forget{Canvas: canvasID}); err != nil && !errors.Is(err, canvases.ErrNotFound) {
		return err
	}
	return h.cfg.Journal.Delete(ctx, canvasID)
}

// Since returns what a client that has seen up to seq needs to catch up.
func (h *Hub) Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error) {
	res, err := ask[*sinceResult](ctx, h, &getSince{Canvas: canvasID, Since: seq})
	if err != nil {
		return canvases.CatchUp{}, err
	}
	if res.Err != nil {
		return canvases.CatchUp{}, res.Err
	}
	cu := canvases.CatchUp{Seq: res.Seq, Snapshot: res.Snapshot}
	for _, b := range res.Batches {
		cu.Batches = append(cu.Batches, b)
	}
	return cu, nil
}

// History returns up to limit committed batches after seq, or
// canvases.ErrHistoryTrimmed when they are older than the history kept.
func (h *Hub) History(ctx context.Context, canvasID string, seq uint64, limit int) ([][]byte, uint64, error) {
	res, err := ask[*sinceResult](ctx, h, &getSince{Canvas: canvasID, Since: seq, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	if res.Err != nil {
		return nil, 0, res.Err
	}
	if res.Snapshot != nil {
		return nil, res.Seq, canvases.ErrHistoryTrimmed
	}
	out := make([][]byte, len(res.Batches))
	for i, b := range res.Batches {
		out[i] = b
	}
	return out, res.Seq, nil
}

// Active returns the number of canvas actors alive on this node, counting
// those still finishing their work before a stop.
func (h *Hub) Active(ctx context.Context) (int, error) {
	m := &countActive{reply: newReply()}
	v, err := h.askSupervisor(ctx, m, m.reply, "count")
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// Shutdown passivates every canvas (finishing appends in flight and writing
// a final checkpoint), waits for the actors' background work (journal
// trims, AI enqueues) and stops the actor system. It returns ctx's error if
// ctx ends first.
// A second call does nothing.
func (h *Hub) Shutdown(ctx context.Context) error {
	var err error
	h.shutdown.Do(func() {
		done := make(chan struct{})
		h.system.Root.Send(h.super, &stopAll{done: done})
		select {
		case <-done:
			err = h.waitBackground(ctx)
		case <-ctx.Done():
			err = fmt.Errorf("actors: shutdown: %w", ctx.Err())
		}
		h.system.Shutdown()
		h.system.EventStream.Unsubscribe(h.deadLetters)
		h.workers.close()
	})
	return err
}

// waitBackground waits for the goroutines counted in bg, or for ctx. Call
// it only once every actor has stopped: then none can start another, so
// Wait never runs beside an Add from zero.
func (h *Hub) waitBackground(ctx context.Context) error {
	idle := make(chan struct{})
	go func() { h.bg.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("actors: shutdown: background work: %w", ctx.Err())
	}
}

// background runs fn on a goroutine counted in bg.
func (h *Hub) background(fn func()) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		fn()
	}()
}

// send sends a request to the canvas's actor: directly when it is live and
// takes requests, else through the supervisor, which activates it.
func (h *Hub) send(msg canvasMsg) { h.routes.send(h.system.Root, h.super, msg) }

// ask sends a request to the canvas's actor and waits for the answer of
// type T, at most AskTimeout. A ctx that has already ended sends nothing
// and returns ctx's error.
func ask[T any](ctx context.Context, h *Hub, msg canvasMsg) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	msg.req().reply = newReply()
	deadline := time.Now().Add(h.cfg.AskTimeout)
	h.send(msg)
	return result[T](ctx, msg, deadline)
}

// result waits until deadline, or until ctx ends, for the answer of type T
// to msg. A submit whose answer does not come in time may still commit: its
// outcome is unknown. When ctx ends first, the error wraps ctx's error as
// well, so that the caller can tell its own ctx from the canvas's silence.
func result[T any](ctx context.Context, msg canvasMsg, deadline time.Time) (T, error) {
	var zero T
	var v any
	select {
	case v = <-msg.req().reply:
	default:
		t := getTimer(time.Until(deadline))
		defer timers.Put(t)
		select {
		case v = <-msg.req().reply:
			t.Stop()
		case <-t.C:
			return zero, unanswered(msg, "in time", actor.ErrTimeout)
		case <-ctx.Done():
			t.Stop()
			return zero, unanswered(msg, "before the caller's ctx ended", ctx.Err())
		}
	}
	switch r := v.(type) {
	case T:
		return r, nil
	case error:
		return zero, r
	default:
		return zero, fmt.Errorf("actors: unexpected answer %T", v)
	}
}

// unanswered is the error of a request whose answer did not come: nothing
// was committed for a read (canvases.ErrUnavailable), but a submit may
// still be (canvases.ErrOutcomeUnknown).
func unanswered(msg canvasMsg, when string, cause error) error {
	if _, isSubmit := msg.(*submit); isSubmit {
		return fmt.Errorf("%w: no answer from canvas %s %s: %w", canvases.ErrOutcomeUnknown, msg.canvasID(), when, cause)
	}
	return fmt.Errorf("%w: no answer from canvas %s %s: %w", canvases.ErrUnavailable, msg.canvasID(), when, cause)
}

// timers are reused by result, which waits for an answer to every request.
// A stopped or fired timer delivers nothing stale after Reset (Go 1.23
// timers), so one can serve wait after wait.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}
