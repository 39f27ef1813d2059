package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// Batches are routed through lanes, one per canvas and author, which keep
// the order the Router's doc promises. A lane holds its unsettled batches
// in submit order. Without a failure each batch is sent at once, by the
// goroutine that submits it, to where the lane's batches still out went
// (or, with none out, to the holder known). A batch whose attempt failed in a way that
// may be tried again marks its lane retrying and starts the lane's drain
// goroutine: from then on new batches of the lane are queued, and drain
// sends the lane's batches one at a time, each once the one before it is
// settled, until only queued batches are left, which it sends at once,
// in order, ending the retry.

type laneKey struct{ canvas, author string }

type lanes struct {
	mu sync.Mutex
	m  map[laneKey]*lane
	wg sync.WaitGroup // drain goroutines
}

type lane struct {
	key       laneKey
	items     []*batch // unsettled, in submit order
	next      uint64   // ordinal of the next batch submitted
	committed uint64   // 1 + the highest ordinal committed; 0 for none
	target    string   // where the last batch sent went
	retrying  bool     // drain runs
	changed   chan struct{}
}

type batchState int

const (
	stateQueued   batchState = iota // not sent yet
	stateInflight                   // an attempt is out
	stateFailed                     // the last attempt failed; to be tried again
	stateSettled                    // done is closed
)

type batch struct {
	lane    *lane
	ordinal uint64
	req     *wireRequest
	body    []byte
	hold    *hold
	state   batchState
	attempt int     // number of the attempt out; answers to others are stale
	verdict verdict // of the last failed attempt
	lastErr error
	// abandoned: its waiter's ctx ended, so it is not sent again.
	abandoned bool

	done chan struct{}
	seq  uint64
	err  error
}

// Submit commits ops as one batch on the canvas's owner and returns its
// seq; see the Router's doc for how it is tried again and kept in order.
func (r *Router) Submit(ctx context.Context, canvasID, author, clientBatchID string, ops []canvas.Op) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	target, err := r.resolve(ctx, canvasID)
	if err != nil {
		target = "" // the first attempt finds it as SubmitAsync does, or fails and is tried again
	}
	return r.enqueue(canvasID, author, clientBatchID, ops, target)(ctx)
}

// SubmitAsync is Submit without waiting; it does not block. Without a
// holder known for the canvas, the first attempt goes to the node
// placement prefers, which redirects it to the holder.
func (r *Router) SubmitAsync(canvasID, author, clientBatchID string, ops []canvas.Op) func(context.Context) (uint64, error) {
	return r.enqueue(canvasID, author, clientBatchID, ops, "")
}

// enqueue adds a batch to its lane and sends it to target ("": the quick
// target) unless the lane is retrying. It returns the batch's waiter.
func (r *Router) enqueue(canvasID, author, clientBatchID string, ops []canvas.Op, target string) func(context.Context) (uint64, error) {
	req := &wireRequest{V: wireVersion, Op: opSubmit, Canvas: canvasID, Author: author, CBID: clientBatchID, Ops: ops}
	b := &batch{req: req, hold: r.newHold(), done: make(chan struct{})}
	waiter := func(ctx context.Context) (uint64, error) { return r.wait(ctx, b) }
	body, err := json.Marshal(req)
	if err != nil {
		b.settle(0, fmt.Errorf("cluster: encode a batch of canvas %s: %w", canvasID, err))
		return waiter
	}
	b.body = body
	if r.isClosed() {
		b.settle(0, fmt.Errorf("%w: canvas %s: %w", canvases.ErrUnavailable, canvasID, errRouterClosed))
		return waiter
	}
	r.lanes.mu.Lock()
	defer r.lanes.mu.Unlock()
	key := laneKey{canvasID, author}
	l := r.lanes.m[key]
	if l == nil {
		l = &lane{key: key, changed: make(chan struct{}, 1)}
		r.lanes.m[key] = l
	}
	b.lane, b.ordinal = l, l.next
	l.next++
	l.items = append(l.items, b)
	if l.retrying {
		return waiter
	}
	var rerr error
	switch {
	case len(l.items) > 1:
		// Batches of the lane are out: this one goes where they went, so
		// that one node answers them all in order even when the holder
		// known changes meanwhile.
		target = l.target
	case target == "":
		target, rerr = r.quickTarget(canvasID)
	}
	r.sendLocked(b, target, rerr)
	return waiter
}

// sendLocked makes the next attempt of b on target, or fails it with
// resolveErr, the error of finding a target.
func (r *Router) sendLocked(b *batch, target string, resolveErr error) {
	b.state = stateInflight
	b.attempt++
	n := b.attempt
	if resolveErr != nil {
		r.outcomeLocked(b, n, "", 0, resolveErr)
		return
	}
	b.lane.target = target
	req := b.req
	if target == r.cfg.Node && r.cfg.Local != nil {
		wait := r.cfg.Local.SubmitAsync(req.Canvas, req.Author, req.CBID, req.Ops)
		// Local bounds its wait (actors.Config.AskTimeout).
		go func() {
			seq, err := wait(context.Background())
			r.outcome(b, n, target, seq, err)
		}()
		return
	}
	start := time.Now()
	err := r.mux.request(r.cfg.Names.ClusterNode(target), b.body, r.cfg.RequestTimeout, func(data []byte, err error) {
		r.metrics.remote.WithLabelValues(opSubmit).Observe(time.Since(start).Seconds())
		if err != nil {
			r.outcome(b, n, target, 0, attemptError(req, target, err, true))
			return
		}
		o := decodeReply(opSubmit, req.Canvas, target, data)
		r.outcome(b, n, target, o.seq, o.err)
	})
	if err != nil {
		r.outcomeLocked(b, n, target, 0, attemptError(req, target, err, false))
	}
}

func (r *Router) outcome(b *batch, attempt int, target string, seq uint64, err error) {
	r.lanes.mu.Lock()
	defer r.lanes.mu.Unlock()
	r.outcomeLocked(b, attempt, target, seq, err)
}

// outcomeLocked takes the answer to attempt of b: it settles b, or marks
// it to be tried again and the lane retrying.
func (r *Router) outcomeLocked(b *batch, attempt int, target string, seq uint64, err error) {
	if b.state != stateInflight || attempt != b.attempt {
		return
	}
	l := b.lane
	defer l.signal()
	if err == nil {
		r.remember(b.req.Canvas, target)
		l.committed = max(l.committed, b.ordinal+1)
		r.settleLocked(b, seq, nil)
		return
	}
	v, reason, holder := classify(err)
	if v == verdictFinal || (v == verdictUnknown && b.req.CBID == "") || b.abandoned {
		r.settleLocked(b, 0, err)
		return
	}
	r.failed(b.req.Canvas, v, reason, holder)
	b.state, b.verdict, b.lastErr = stateFailed, v, err
	if !l.retrying {
		l.retrying = true
		r.lanes.wg.Add(1)
		go r.drain(l)
	}
}

// drain sends a retrying lane's batches again, one at a time in order,
// until only batches never sent are left, which it sends at once.
func (r *Router) drain(l *lane) {
	defer r.lanes.wg.Done()
	r.lanes.mu.Lock()
	defer r.lanes.mu.Unlock()
	for {
		if slices.ContainsFunc(l.items, func(b *batch) bool { return b.state == stateInflight }) {
			r.lanes.mu.Unlock()
			<-l.changed
			r.lanes.mu.Lock()
			continue
		}
		if len(l.items) == 0 {
			l.retrying = false
			delete(r.lanes.m, l.key)
			return
		}
		head := l.items[0]
		if head.state == stateQueued {
			// Batches are queued only behind a failed one, so every batch
			// left is queued: send them, in order, unless one fails at
			// once and the lane retries again.
			l.retrying = false
			target, err := r.quickTarget(head.req.Canvas)
			for _, b := range slices.Clone(l.items) {
				if l.retrying {
					break
				}
				r.sendLocked(b, target, err)
			}
			return
		}
		r.retryHead(l, head)
	}
}

// retryHead settles the lane's first batch, failed, or sends it again.
// Called with r.lanes.mu held; it releases it while it waits.
func (r *Router) retryHead(l *lane, head *batch) {
	if l.committed > head.ordinal {
		r.settleLocked(head, 0, fmt.Errorf("cluster: canvas %s: batch of %s not sent again, since a later one of theirs is committed: %w",
			head.req.Canvas, head.req.Author, head.lastErr))
		return
	}
	if head.abandoned {
		r.settleLocked(head, 0, head.lastErr)
		return
	}
	delay, ok := head.hold.next(head.verdict, head.lastErr)
	if !ok {
		r.settleLocked(head, 0, head.hold.giveUp(head.req.Canvas))
		return
	}
	r.lanes.mu.Unlock()
	target, err := "", r.sleep(context.Background(), delay)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.RequestTimeout)
		target, err = r.resolve(ctx, head.req.Canvas)
		cancel()
	}
	r.lanes.mu.Lock()
	switch {
	case head.state != stateFailed:
	case r.isClosed():
		head.hold.last = fmt.Errorf("%w: %w", head.lastErr, errRouterClosed)
		r.settleLocked(head, 0, head.hold.giveUp(head.req.Canvas))
	default:
		r.sendLocked(head, target, err)
	}
}

// wait is a batch's waiter: its outcome, or when ctx ends first
// ErrOutcomeUnknown; the batch is then not sent again.
func (r *Router) wait(ctx context.Context, b *batch) (uint64, error) {
	select {
	case <-b.done:
		return b.seq, b.err
	default:
	}
	select {
	case <-b.done:
		return b.seq, b.err
	case <-ctx.Done():
	}
	r.lanes.mu.Lock()
	defer r.lanes.mu.Unlock()
	if b.state == stateSettled {
		return b.seq, b.err
	}
	b.abandoned = true
	err := fmt.Errorf("%w: canvas %s: %w", canvases.ErrOutcomeUnknown, b.req.Canvas, ctx.Err())
	if b.state == stateQueued {
		r.settleLocked(b, 0, err)
		b.lane.signal()
	}
	return 0, err
}

// settleLocked ends b with its outcome and takes it out of its lane.
func (r *Router) settleLocked(b *batch, seq uint64, err error) {
	b.settle(seq, err)
	l := b.lane
	if i := slices.Index(l.items, b); i >= 0 {
		l.items = slices.Delete(l.items, i, i+1)
	}
	if len(l.items) == 0 && !l.retrying && r.lanes.m[l.key] == l {
		delete(r.lanes.m, l.key)
	}
}

func (b *batch) settle(seq uint64, err error) {
	b.state, b.seq, b.err = stateSettled, seq, err
	close(b.done)
}

// signal wakes the lane's drain, if it waits.
func (l *lane) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}
