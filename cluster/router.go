package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
)

// Defaults of RouterConfig.
const (
	DefaultHoldFor        = 10 * time.Second
	DefaultRequestTimeout = 10 * time.Second
)

// Local is this node's canvases: the canvases.Canvases of the actors that
// live here (*actors.Hub), and whether a live actor here takes a canvas's
// requests.
type Local interface {
	canvases.Canvases
	// Owns reports whether a live actor on this node takes canvasID's
	// requests. It does not block.
	Owns(canvasID string) bool
	// Epoch returns the epoch of canvasID's live actor on this node and
	// the seq it has committed; live is false, and nothing is activated,
	// when the canvas is not live here (actors.Hub.Epoch).
	Epoch(ctx context.Context, canvasID string) (epoch string, seq uint64, live bool, err error)
	// Checkpoint makes the store's checkpoint of canvasID cover at least
	// seq and returns the checkpoint's seq (actors.Hub.Checkpoint).
	Checkpoint(ctx context.Context, canvasID string, seq uint64) (uint64, error)
}

// RouterConfig configures a Router.
type RouterConfig struct {
	Conn  *nats.Conn
	Names natsname.Names // zero: natsname.Default()
	Node  string         // this node's name (NODE_NAME)
	// Local is this node's canvases; nil on a node that owns none, whose
	// every call goes to another node.
	Local  Local
	Leases *Leases
	// Live lists the live nodes that have the canvases role
	// (Membership.Live(RoleCanvases)). It does not block.
	Live func() []string
	// HoldFor bounds how long a call waits for an owner, over all its
	// attempts; zero: DefaultHoldFor.
	HoldFor time.Duration
	// RequestTimeout bounds one attempt on another node; zero:
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	Logger         *slog.Logger          // nil: discard
	Registerer     prometheus.Registerer // nil: metrics are kept but not registered
}

// Validate names the first setting that is missing.
func (c *RouterConfig) Validate() error {
	switch {
	case c.Conn == nil:
		return errors.New("cluster: RouterConfig.Conn is nil")
	case c.Node == "":
		return errors.New("cluster: RouterConfig.Node is empty")
	case c.Leases == nil:
		return errors.New("cluster: RouterConfig.Leases is nil")
	case c.Live == nil:
		return errors.New("cluster: RouterConfig.Live is nil")
	}
	return nil
}

func (c *RouterConfig) setDefaults() {
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
	if c.HoldFor <= 0 {
		c.HoldFor = DefaultHoldFor
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Router is the canvases of a cluster: it sends each call to the node
// that owns the canvas, and with Serve answers the other nodes' calls for
// the canvases this node owns.
//
// The target of a call is the canvas's holder as last learned (from a
// lease lookup, an answer, or a NotOwnerError), else the lease's holder,
// else, when no node holds the lease, the node placement prefers among
// Live. A call for this node goes to Local directly.
//
// A call that finds no owner is tried again: at once on the holder a
// NotOwnerError names; after a backoff (50 ms, doubling to 1 s), with the
// holder looked up again, on ErrUnavailable, no responders, or no answer
// within RequestTimeout; for at most HoldFor in all, after which it
// returns the last error. A batch whose attempt may have reached an owner
// (no answer in time, or ErrOutcomeUnknown) is sent again only when it
// has a client batch id, which the owner dedupes; otherwise it returns
// ErrOutcomeUnknown, as does a batch that gives up after such an attempt.
// FinishAIRun is never sent again after such an attempt. Other errors
// return at once.
//
// Order. A batch's first attempt is published by the goroutine that
// submits it, before Submit or SubmitAsync returns, so one goroutine's
// batches reach an owner in the order they were submitted, and the owner
// (Local, in arrival order) commits them in that order. While batches of
// one canvas by one author (a key) are out, the next batch of the key
// goes to the node they went to, even if the holder known changed. When
// a batch of a key is to be tried again, the Router waits until no later
// batch of the key is out; if one of those was committed, the batch is
// not sent again and returns its error (ErrUnavailable, or
// ErrOutcomeUnknown after an attempt that may have reached an owner), as
// the owner answered it. Otherwise the batch is sent again, and from the
// first failure until the key has only batches never sent, its batches
// are sent one at a time, each once the one before it is settled; then
// the rest are sent at once, in order. So of one key's batches none is
// ever committed after a batch of the key submitted later. Batches of
// other keys are not held back by a key that retries: between keys, the
// submit order is kept only when no batch is tried again.
type Router struct {
	cfg     RouterConfig
	mux     *mux
	metrics *routeMetrics
	lanes   lanes

	mu      sync.Mutex
	holders map[string]string // canvas id -> node, as last learned
	serving *serving
	closed  chan struct{}
	stopped sync.Once
}

var _ canvases.Canvases = (*Router)(nil)

// NewRouter checks cfg and subscribes to the router's reply inbox. It
// answers no other node's calls until Serve.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	m, err := newMux(cfg.Conn)
	if err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, mux: m, metrics: newRouteMetrics(cfg.Registerer), holders: map[string]string{}, closed: make(chan struct{})}
	r.lanes.m = map[laneKey]*lane{}
	go r.watchGone()
	return r, nil
}

// Snapshot returns the committed state of a canvas, from its owner.
func (r *Router) Snapshot(ctx context.Context, canvasID string) (canvas.Export, error) {
	o := r.call(ctx, &wireRequest{Op: opSnapshot, Canvas: canvasID}, true, func(ctx context.Context) outcome {
		ex, err := r.cfg.Local.Snapshot(ctx, canvasID)
		return outcome{export: ex, err: err}
	})
	return o.export, o.err
}

// Since returns what a client that has seen up to seq needs to catch up,
// from the canvas's owner.
func (r *Router) Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error) {
	o := r.call(ctx, &wireRequest{Op: opSince, Canvas: canvasID, Seq: seq}, true, func(ctx context.Context) outcome {
		cu, err := r.cfg.Local.Since(ctx, canvasID, seq)
		return outcome{catchUp: cu, err: err}
	})
	return o.catchUp, o.err
}

// History returns up to limit encoded batches after since and the
// canvas's current seq, from its owner.
func (r *Router) History(ctx context.Context, canvasID string, since uint64, limit int) ([][]byte, uint64, error) {
	o := r.call(ctx, &wireRequest{Op: opHistory, Canvas: canvasID, Seq: since, Limit: limit}, true, func(ctx context.Context) outcome {
		bs, seq, err := r.cfg.Local.History(ctx, canvasID, since, limit)
		return outcome{batches: bs, seq: seq, err: err}
	})
	return o.batches, o.seq, o.err
}

// Checkpoint makes the store's checkpoint of a canvas cover at least seq,
// on its owner (loading the canvas there if it is not live), and returns
// the checkpoint's seq; for a backup. Asking twice is harmless.
func (r *Router) Checkpoint(ctx context.Context, canvasID string, seq uint64) (uint64, error) {
	o := r.call(ctx, &wireRequest{Op: opCheckpoint, Canvas: canvasID, Seq: seq}, true, func(ctx context.Context) outcome {
		cp, err := r.cfg.Local.Checkpoint(ctx, canvasID, seq)
		return outcome{seq: cp, err: err}
	})
	return o.seq, o.err
}

// Forget stops a deleted canvas on its owner and removes its journal.
func (r *Router) Forget(ctx context.Context, canvasID string) error {
	return r.call(ctx, &wireRequest{Op: opForget, Canvas: canvasID}, true, func(ctx context.Context) outcome {
		return outcome{err: r.cfg.Local.Forget(ctx, canvasID)}
	}).err
}

// FinishAIRun commits an AI run's result on the canvas's owner. It is not
// sent again after an attempt that may have reached the owner: a second
// commit would find the run finished and answer ErrStaleRun.
func (r *Router) FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, res canvases.AIResult) error {
	req := &wireRequest{Op: opFinishAIRun, Canvas: canvasID, Node: nodeID, Run: runID, Result: toWireAIResult(res)}
	return r.call(ctx, req, false, func(ctx context.Context) outcome {
		return outcome{err: r.cfg.Local.FinishAIRun(ctx, canvasID, nodeID, runID, res)}
	}).err
}

// EpochOn asks node, once, for the epoch of canvasID's live actor there
// and the seq it has committed (Local.Epoch), for an operator's view: live
// is false when the canvas is not live on node. It is not routed, held
// or tried again: a node that does not answer within the request timeout
// is an ErrUnavailable error.
func (r *Router) EpochOn(ctx context.Context, node, canvasID string) (epoch string, seq uint64, live bool, err error) {
	if node == r.cfg.Node && r.cfg.Local != nil {
		return r.cfg.Local.Epoch(ctx, canvasID)
	}
	req := &wireRequest{V: wireVersion, Op: opEpoch, Canvas: canvasID}
	body, err := json.Marshal(req)
	if err != nil {
		return "", 0, false, fmt.Errorf("cluster: encode %s of canvas %s: %w", req.Op, req.Canvas, err)
	}
	o := r.remote(ctx, node, req, body)
	return o.epoch, o.seq, o.live, o.err
}

// call runs one call that is not a batch on its canvas's owner, local runs
// it on Local, and tries again as the Router's doc says; retryUnknown says
// whether an attempt that may have reached the owner may be repeated.
func (r *Router) call(ctx context.Context, req *wireRequest, retryUnknown bool, local func(context.Context) outcome) outcome {
	if err := ctx.Err(); err != nil {
		return outcome{err: err}
	}
	req.V = wireVersion
	body, err := json.Marshal(req)
	if err != nil {
		return outcome{err: fmt.Errorf("cluster: encode %s of canvas %s: %w", req.Op, req.Canvas, err)}
	}
	h := r.newHold()
	for {
		if r.isClosed() {
			return outcome{err: fmt.Errorf("%w: canvas %s: %w", canvases.ErrUnavailable, req.Canvas, errRouterClosed)}
		}
		target, err := r.resolve(ctx, req.Canvas)
		var o outcome
		switch {
		case err != nil:
			o.err = err
		case target == r.cfg.Node && r.cfg.Local != nil:
			o = local(ctx)
		default:
			o = r.remote(ctx, target, req, body)
		}
		if o.err == nil {
			r.remember(req.Canvas, target)
			return o
		}
		if ctx.Err() != nil {
			return outcome{err: fmt.Errorf("%w: canvas %s: %w", canvases.ErrUnavailable, req.Canvas, ctx.Err())}
		}
		v, reason, holder := classify(o.err)
		if v == verdictFinal || (v == verdictUnknown && !retryUnknown) {
			return o
		}
		r.failed(req.Canvas, v, reason, holder)
		delay, ok := h.next(v, o.err)
		if !ok {
			return outcome{err: h.giveUp(req.Canvas)}
		}
		if err := r.sleep(ctx, delay); err != nil {
			return outcome{err: fmt.Errorf("%w: canvas %s: %w", canvases.ErrUnavailable, req.Canvas, err)}
		}
	}
}

// remote runs one attempt of req on target and waits for its answer.
func (r *Router) remote(ctx context.Context, target string, req *wireRequest, body []byte) outcome {
	type answer struct {
		data []byte
		err  error
	}
	ch := make(chan answer, 1)
	start := time.Now()
	err := r.mux.request(r.cfg.Names.ClusterNode(target), body, r.cfg.RequestTimeout, func(data []byte, err error) {
		ch <- answer{data, err}
	})
	if err != nil {
		return outcome{err: attemptError(req, target, err, false)}
	}
	select {
	case a := <-ch:
		r.metrics.remote.WithLabelValues(req.Op).Observe(time.Since(start).Seconds())
		if a.err != nil {
			return outcome{err: attemptError(req, target, a.err, true)}
		}
		return decodeReply(req.Op, req.Canvas, target, a.data)
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	}
}

func (r *Router) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}
