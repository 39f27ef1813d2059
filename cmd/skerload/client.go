package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// client is one WebSocket connection speaking SKER's protocol
// (docs/protocol.md, gateway/frames.go): authenticated by ?token=, joined
// to one canvas at a time. Its read loop records what arrives in the run's
// metrics; senders write through send, one at a time.
type client struct {
	run   *Run
	idx   int
	ws    *websocket.Conn
	hello helloLimits

	wmu  sync.Mutex // one writer at a time; guards wbuf
	wbuf []byte

	joinedTo atomic.Pointer[joinedCanvas]
	lastSeq  atomic.Uint64   // last seq received on the joined canvas
	joined   chan joinResult // the answer to the pending join
	window   chan struct{}   // a slot per batch in flight, for senders that wait for acks
	batchOps atomic.Int64    // ops per batch this client sends
	closing  atomic.Bool     // the harness is closing it: read errors are expected
	done     chan struct{}   // closed when the read loop ends
	scratch  batchInfo       // read loop only
	onJoined func(f []byte)  // cold: sees the joined frame (read loop)
	lastErr  atomic.Pointer[string]
	// outcomes, when set (failover), gets the answer to every batch, and
	// a reject that asks for the batch again (retryable) is not an error.
	outcomes chan outcome
}

// outcome is the answer to one batch: its seq when acked, else the
// reject's code.
type outcome struct {
	cbid string
	seq  uint64
	code string
}

// retryable are the rejects after which a client sends the same batch
// again with the same cbid (docs/cluster.md, "Routing"): nothing was
// committed, or the owner answers a resend with its first outcome.
func retryable(code string) bool { return code == "unavailable" || code == "outcome_unknown" }

type joinedCanvas struct {
	id    string
	track *canvasTrack
}

// joinResult answers a join: the seq the canvas was at, the frame's size,
// or the error frame's code.
type joinResult struct {
	seq   uint64
	bytes int
	at    time.Time     // when the joined frame had been read
	took  time.Duration // from sending join to having read joined
	err   error
}

// Buffer sizes of a connection: small for the many light clients (idle,
// spread), larger for clients that send big batches.
const (
	smallBuffer = 1024
	largeBuffer = 64 << 10
)

// clientOpts size a connection.
type clientOpts struct {
	buffer int // read and write buffer bytes
	window int // batches in flight at most (acquire); at least 1
	// outcomes: pass every batch's answer to the sender (client.outcomes).
	outcomes bool
}

// dialClient connects, reads hello and starts the read loop.
func dialClient(ctx context.Context, run *Run, wsURL, token string, idx int, o clientOpts) (*client, error) {
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: o.buffer, WriteBufferSize: o.buffer}
	ws, _, err := d.DialContext(ctx, wsURL+"?token="+url.QueryEscape(token), nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	kind, data, err := ws.ReadMessage()
	if err != nil || kind != websocket.TextMessage || frameType(data) != "hello" {
		_ = ws.Close()
		if err == nil {
			err = fmt.Errorf("first frame is not hello: %.80s", data)
		}
		return nil, fmt.Errorf("hello: %w", err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	var h serverFrame
	if err := json.Unmarshal(data, &h); err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	c := &client{run: run, idx: idx, ws: ws, hello: h.Limits, joined: make(chan joinResult, 1), done: make(chan struct{}),
		window: make(chan struct{}, max(o.window, 1))}
	c.batchOps.Store(1)
	if o.outcomes {
		c.outcomes = make(chan outcome, 8)
	}
	go c.readLoop()
	return c, nil
}

// send writes one frame, with a deadline so that a stuck server cannot
// hold a sender forever.
func (c *client) send(build func(buf []byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = build(c.wbuf[:0])
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, c.wbuf)
}

// join joins canvasID and waits for joined (or an error frame).
func (c *client) join(ctx context.Context, canvasID string) (joinResult, error) {
	c.joinedTo.Store(&joinedCanvas{id: canvasID, track: c.run.track(canvasID)})
	sent := time.Now()
	err := c.send(func(b []byte) []byte {
		return append(append(append(b, `{"type":"join","canvas":"`...), canvasID...), `"}`...)
	})
	if err != nil {
		return joinResult{}, fmt.Errorf("join: %w", err)
	}
	select {
	case r := <-c.joined:
		r.took = r.at.Sub(sent)
		return r, r.err
	case <-c.done:
		return joinResult{}, fmt.Errorf("join: connection ended: %s", c.endReason())
	case <-ctx.Done():
		return joinResult{}, fmt.Errorf("join: %w", ctx.Err())
	}
}

// sendOps sends one batch: ops is the JSON array, nops its length, stamp
// the send time it carries (unix ns), also put in the cbid so that the ack
// tells the ack latency.
func (c *client) sendOps(canvasID string, stamp int64, nops int, ops func(b []byte) []byte) error {
	err := c.send(func(b []byte) []byte { return appendOpsFrame(b, canvasID, c.idx, stamp, ops) })
	if err != nil {
		return err
	}
	c.run.C.Sent.Add(1)
	if c.run.inWindow(stamp) {
		c.run.C.WinSent.Add(1)
		c.run.C.WinOps.Add(int64(nops))
	}
	return nil
}

// sendStamp sends the fanout and spread workload: one node.update that
// stamps the send time on the client's own node.
func (c *client) sendStamp(canvasID, nodeID string) error {
	now := time.Now().UnixNano()
	return c.sendOps(canvasID, now, 1, func(b []byte) []byte {
		return append(stampOp(append(b, '['), nodeID, now, true, -1), ']')
	})
}

// acquire takes a window slot, waiting for an ack when all are taken.
// Open-loop senders (fanout, spread) never take one; their acks find the
// window empty and release nothing.
func (c *client) acquire(ctx context.Context) error {
	select {
	case c.window <- struct{}{}:
		return nil
	case <-c.done:
		return fmt.Errorf("connection ended: %s", c.endReason())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle waits until every batch sent through acquire has its answer.
func (c *client) settle(ctx context.Context) error {
	for range cap(c.window) {
		if err := c.acquire(ctx); err != nil {
			return err
		}
	}
	for range cap(c.window) {
		<-c.window
	}
	return nil
}

func (c *client) releaseSlot() {
	select {
	case <-c.window:
	default:
	}
}

// close says goodbye (1000) and waits briefly for the server to close.
func (c *client) close() {
	c.closing.Store(true)
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(2*time.Second))
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	_ = c.ws.Close()
	<-c.done
}

// alive reports whether the read loop still runs.
func (c *client) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}
