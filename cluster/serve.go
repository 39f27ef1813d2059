package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/canvases"
)

// serving answers the other nodes' calls for this node's canvases, on the
// node's ClusterNode subject. Requests are taken in the order they arrive
// (one subscription callback): a batch goes to Local.SubmitAsync there
// and then, so that Local receives one caller's batches in the order it
// sent them, and its outcome is awaited on a goroutine of its own. A
// request for a canvas no live actor here owns waits while the lease is
// looked up, with the requests for that canvas that arrive meanwhile.
type serving struct {
	r   *Router
	sub *nats.Subscription

	mu       sync.Mutex
	checking map[string][]*served // canvas id -> requests waiting for the ownership check
	inflight sync.WaitGroup       // requests taken and not answered
}

// served is a request taken from another node.
type served struct {
	msg *nats.Msg
	req wireRequest
}

// Serve answers the other nodes' calls for the canvases this node owns,
// on Names.ClusterNode(Node), until Shutdown. It returns once the
// subscription is in place; without Local it does nothing.
func (r *Router) Serve(ctx context.Context) error {
	if r.cfg.Local == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.serving != nil {
		return errors.New("cluster: the router serves already")
	}
	if r.isClosed() {
		return errRouterClosed
	}
	s := &serving{r: r, checking: map[string][]*served{}}
	subject := r.cfg.Names.ClusterNode(r.cfg.Node)
	sub, err := r.cfg.Conn.Subscribe(subject, s.receive)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to %s: %w", subject, err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: limits of %s: %w", subject, err)
	}
	// The server has the subscription once it answers a flush.
	fctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	if err := r.cfg.Conn.FlushWithContext(fctx); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe to %s: %w", subject, err)
	}
	s.sub = sub
	r.serving = s
	return nil
}

// Shutdown stops taking the other nodes' calls, answers those taken, and
// then ends this node's calls still trying: a batch whose attempt is out
// returns ErrOutcomeUnknown, any other call ErrUnavailable. Call it after
// the parts that call the Router have stopped, and before Local stops.
// It returns ctx's error if ctx ends first. A second call does nothing.
func (r *Router) Shutdown(ctx context.Context) error {
	var err error
	r.stopped.Do(func() {
		r.mu.Lock()
		s := r.serving
		r.mu.Unlock()
		if s != nil {
			err = s.stop(ctx)
		}
		close(r.closed)
		r.mux.close()
		idle := make(chan struct{})
		go func() { r.lanes.wg.Wait(); close(idle) }()
		select {
		case <-idle:
		case <-ctx.Done():
			err = errors.Join(err, fmt.Errorf("cluster: router shutdown: batches trying again: %w", ctx.Err()))
		}
	})
	return err
}

// stop drains the subscription (requests buffered here are still taken)
// and waits for the requests taken to be answered.
func (s *serving) stop(ctx context.Context) error {
	if err := s.sub.Drain(); err != nil {
		return fmt.Errorf("cluster: stop serving: %w", err)
	}
	for s.sub.IsValid() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: stop serving: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	answered := make(chan struct{})
	go func() { s.inflight.Wait(); close(answered) }()
	select {
	case <-answered:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: stop serving: requests in flight: %w", ctx.Err())
	}
}

func (s *serving) receive(msg *nats.Msg) {
	s.inflight.Add(1)
	sv := &served{msg: msg}
	if err := json.Unmarshal(msg.Data, &sv.req); err != nil {
		s.answer(sv, outcome{err: &badRequestError{text: "cluster: a request that is not JSON: " + err.Error()}})
		return
	}
	if sv.req.V != wireVersion {
		s.answer(sv, outcome{err: &badRequestError{text: fmt.Sprintf("cluster: wire version %d; this node speaks %d", sv.req.V, wireVersion)}})
		return
	}
	if servedLabel(sv.req.Op) == kindBadRequest {
		s.answer(sv, outcome{err: &badRequestError{text: fmt.Sprintf("cluster: unknown op %q", sv.req.Op)}})
		return
	}
	if sv.req.Op == opEpoch { // about this node, whoever owns the canvas
		s.dispatchEpoch(sv)
		return
	}
	id := sv.req.Canvas
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.checking[id]; ok {
		s.checking[id] = append(q, sv)
		return
	}
	if s.r.cfg.Local.Owns(id) {
		s.dispatchLocked(sv)
		return
	}
	s.checking[id] = []*served{sv}
	go s.check(id)
}

// check decides whether this node takes canvasID, which no live actor here
// owns, and then takes the requests for it that waited, in order, or
// answers them with the NotOwnerError.
func (s *serving) check(canvasID string) {
	err := s.ownership(canvasID)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sv := range s.checking[canvasID] {
		if err != nil {
			s.answer(sv, outcome{err: err})
		} else {
			s.dispatchLocked(sv)
		}
	}
	delete(s.checking, canvasID)
}

// ownership is nil when this node should take canvasID: its lease is this
// node's, or free and placement prefers this node (or knows no node).
// Otherwise it is the NotOwnerError naming the holder or the preferred
// node, or ErrUnavailable when the lease cannot be read.
func (s *serving) ownership(canvasID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.RequestTimeout)
	defer cancel()
	holder, _, err := s.r.cfg.Leases.Holder(ctx, canvasID)
	switch {
	case err == nil && holder == s.r.cfg.Node:
		return nil
	case err == nil:
		return &canvases.NotOwnerError{CanvasID: canvasID, Holder: holder}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("%w: canvas %s: look up its lease: %w", canvases.ErrUnavailable, canvasID, err)
	}
	if pref := Owner(canvasID, s.r.cfg.Live()); pref != "" && pref != s.r.cfg.Node {
		return &canvases.NotOwnerError{CanvasID: canvasID, Holder: pref}
	}
	return nil
}

// dispatchLocked runs sv on Local: a batch is handed over now, in order;
// anything else runs on a goroutine of its own.
func (s *serving) dispatchLocked(sv *served) {
	local, req := s.r.cfg.Local, sv.req
	if req.Op == opSubmit {
		wait := local.SubmitAsync(req.Canvas, req.Author, req.CBID, req.Ops)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.RequestTimeout)
			defer cancel()
			seq, err := wait(ctx)
			s.answer(sv, outcome{seq: seq, err: err})
		}()
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.RequestTimeout)
		defer cancel()
		s.answer(sv, s.run(ctx, req))
	}()
}

// dispatchEpoch answers an epoch request from Local, on a goroutine of its
// own, without the ownership check: it activates nothing.
func (s *serving) dispatchEpoch(sv *served) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.RequestTimeout)
		defer cancel()
		epoch, seq, live, err := s.r.cfg.Local.Epoch(ctx, sv.req.Canvas)
		s.answer(sv, outcome{epoch: epoch, seq: seq, live: live, err: err})
	}()
}

// run runs a request that is not a batch on Local.
func (s *serving) run(ctx context.Context, req wireRequest) outcome {
	local := s.r.cfg.Local
	switch req.Op {
	case opSnapshot:
		ex, err := local.Snapshot(ctx, req.Canvas)
		return outcome{export: ex, err: err}
	case opSince:
		cu, err := local.Since(ctx, req.Canvas, req.Seq)
		return outcome{catchUp: cu, err: err}
	case opHistory:
		bs, seq, err := local.History(ctx, req.Canvas, req.Seq, req.Limit)
		return outcome{batches: bs, seq: seq, err: err}
	case opForget:
		return outcome{err: local.Forget(ctx, req.Canvas)}
	case opCheckpoint:
		seq, err := local.Checkpoint(ctx, req.Canvas, req.Seq)
		return outcome{seq: seq, err: err}
	default: // opFinishAIRun; receive refused the others
		return outcome{err: local.FinishAIRun(ctx, req.Canvas, req.Node, req.Run, req.Result.result())}
	}
}

// answer sends o as the answer to sv, in parts when it is longer than the
// max payload, and counts the request served.
func (s *serving) answer(sv *served, o outcome) {
	defer s.inflight.Done()
	label := servedLabel(sv.req.Op)
	var bad *badRequestError
	if errors.As(o.err, &bad) {
		label = kindBadRequest
	}
	s.r.metrics.served.WithLabelValues(label).Inc()
	if sv.msg.Reply == "" {
		return
	}
	body, err := encodeReply(sv.req.Op, o)
	if err != nil {
		body, _ = encodeReply(sv.req.Op, outcome{err: err})
	}
	if err := s.publish(sv.msg.Reply, body); err != nil {
		s.r.cfg.Logger.Warn("cluster: answer a request", "op", sv.req.Op, "canvas_id", sv.req.Canvas, "err", err)
	}
}

// servedLabel is op as the served counter's label: one of the wire's ops,
// or bad_request, so that a bad request cannot add a series.
func servedLabel(op string) string {
	switch op {
	case opSubmit, opSnapshot, opSince, opHistory, opForget, opFinishAIRun, opEpoch, opCheckpoint:
		return op
	}
	return kindBadRequest
}

// partOverhead is room left in each part for its headers.
const partOverhead = 256

func (s *serving) publish(subject string, body []byte) error {
	nc := s.r.cfg.Conn
	max := int(nc.MaxPayload())
	if len(body) <= max {
		return nc.Publish(subject, body)
	}
	size := max - partOverhead
	if size < 1 {
		return fmt.Errorf("cluster: max payload of %d bytes leaves no room for an answer in parts", max)
	}
	n := (len(body) + size - 1) / size
	for i := range n {
		part := body[i*size : min((i+1)*size, len(body))]
		msg := &nats.Msg{Subject: subject, Data: part, Header: nats.Header{}}
		msg.Header.Set(headerPart, strconv.Itoa(i+1))
		msg.Header.Set(headerParts, strconv.Itoa(n))
		if err := nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("cluster: answer part %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}
