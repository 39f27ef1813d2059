package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// heldCanvases is the canvas contract with a Since that can be held:
// after hold(n), each of the next n calls fetches its answer and then
// waits, before returning it, until the test releases it (or its ctx
// ends). next returns the release of the next call that waits.
type heldCanvases struct {
	Canvases
	mu       sync.Mutex
	holds    int
	releases []func()
	waiting  chan func()
}

func newHeldCanvases(t *testing.T, c Canvases) *heldCanvases {
	h := &heldCanvases{Canvases: c, waiting: make(chan func(), 16)}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, release := range h.releases {
			release()
		}
	})
	return h
}

func (h *heldCanvases) hold(n int) {
	h.mu.Lock()
	h.holds += n
	h.mu.Unlock()
}

func (h *heldCanvases) next(t *testing.T, what string) func() {
	t.Helper()
	select {
	case release := <-h.waiting:
		return release
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no held Since waits after 5s", what)
		return nil
	}
}

func (h *heldCanvases) Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error) {
	cu, err := h.Canvases.Since(ctx, canvasID, seq)
	h.mu.Lock()
	held := h.holds > 0
	var released chan struct{}
	if held {
		h.holds--
		released = make(chan struct{})
		release := sync.OnceFunc(func() { close(released) })
		h.releases = append(h.releases, release)
		h.waiting <- release
	}
	h.mu.Unlock()
	if held {
		select {
		case <-released:
		case <-ctx.Done():
		}
	}
	return cu, err
}

// newHeldStack is a stack whose gateway asks the canvas through a
// heldCanvases and hears fanout under relay names (relayChanges).
func newHeldStack(t *testing.T) (*stack, *heldCanvases, natsname.Names) {
	t.Helper()
	relay := relayNames(t)
	var held *heldCanvases
	s := newStack(t, func(c *Config) {
		c.Names = relay
		held = newHeldCanvases(t, c.Canvases)
		c.Canvases = held
	}, nil)
	return s, held, relay
}

// TestGapFillHoldsNoRoomLock: while the gateway asks the canvas for the
// batches a fanout gap misses, the canvas's room goes on: another client
// joins it and presence reaches its members. The missed batches then
// arrive in order, once, and so do the changes after them.
func TestGapFillHoldsNoRoomLock(t *testing.T) {
	s, held, relay := newHeldStack(t)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	dropNext := s.relayChanges(relay, cid)

	a := s.dial(aTok)
	a.join(cid, nil)
	s.commit(cid, aID, "1", addNodeOp("n1"))
	a.changes(0, 1)

	held.hold(1)
	dropNext(2)
	s.commit(cid, aID, "2", setTextOp("n1", "lost on the way"))
	s.commit(cid, aID, "3", setTextOp("n1", "arrives"))
	release := held.next(t, "the gap after seq 1")

	b := s.dial(bTok)
	b.send(map[string]any{"type": "join", "canvas": cid})
	f, err := b.nextErr(5 * time.Second)
	if err != nil || f.Type != "joined" {
		t.Fatalf("join while the gap is being filled: got %s, %v; want joined (the fill must not hold the room's lock while it asks the canvas)", f.Raw, err)
	}
	if f.Seq != 3 {
		t.Fatalf("joined: got seq %d; want 3", f.Seq)
	}
	b.send(presenceMsg(cid, 7, 8))
	if p := a.nextPresence(); p.Type != "presence" || p.Cursor == nil || p.Cursor.X != 7 {
		t.Fatalf("a got %s; want b's presence at 7,8", p.Raw)
	}

	release()
	if got := a.changes(1, 3); got[0].ClientBatchID != "2" {
		t.Fatalf("the missed batch: got cbid %q; want 2", got[0].ClientBatchID)
	}
	a.quiet("a-after-gap")
	b.quiet("b-after-gap")
	s.commit(cid, aID, "4", setTextOp("n1", "after"))
	a.changes(3, 4)
	b.changes(3, 4)
}

// TestRacingGapFillsDeliverOnce: two fills of one room's gaps fetch at
// once, from the same head; the one that fetched less delivers first. Each
// batch then reaches the member once, in order: the second delivers only
// what the first did not.
func TestRacingGapFillsDeliverOnce(t *testing.T) {
	s, held, _ := newHeldStack(t)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	// The gateway hears nothing of the canvas's fanout: the test hands the
	// hub's messages to the room itself.
	var mu sync.Mutex
	fanout := map[uint64]*nats.Msg{}
	sub, err := s.nc.Subscribe(natsname.Default().Changes(cid), func(m *nats.Msg) {
		first, _ := seqHeader(m, natsname.HeaderFirstSeq)
		mu.Lock()
		fanout[first] = m
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	message := func(seq uint64) *nats.Msg {
		t.Helper()
		var m *nats.Msg
		eventually(t, 5*time.Second, fmt.Sprintf("fanout of seq %d", seq), func() bool {
			mu.Lock()
			defer mu.Unlock()
			m = fanout[seq]
			return m != nil
		})
		return m
	}

	a := s.dial(aTok)
	a.join(cid, nil)
	s.gw.mu.Lock()
	r := s.gw.rooms[cid]
	s.gw.mu.Unlock()

	held.hold(2)
	s.commit(cid, aID, "1", addNodeOp("n1"))
	s.commit(cid, aID, "2", setTextOp("n1", "2"))
	first := make(chan struct{})
	go func() { defer close(first); r.onChanges(message(2)) }() // fetches 1..2
	releaseFirst := held.next(t, "the first fill")
	s.commit(cid, aID, "3", setTextOp("n1", "3"))
	s.commit(cid, aID, "4", setTextOp("n1", "4"))
	second := make(chan struct{})
	go func() { defer close(second); r.onChanges(message(4)) }() // fetches 1..4
	releaseSecond := held.next(t, "the second fill, while the first waits")

	releaseFirst()
	<-first
	releaseSecond()
	<-second
	got := a.changes(0, 4)
	for i, c := range got {
		if want := fmt.Sprint(i + 1); c.ClientBatchID != want {
			t.Errorf("batch %d: got cbid %q; want %q", c.Seq, c.ClientBatchID, want)
		}
	}
	a.quiet("after-fills")
}

// stalledNATS serves in-process connections to a NATS server whose
// answers can be held back: after stall, what the server sends waits until
// resume. pinged gets a value each time a client sends a PING meanwhile,
// as a Flush does before it waits for the PONG.
type stalledNATS struct {
	ns      *server.Server
	mu      sync.Mutex
	stalled bool
	resumed chan struct{}
	pinged  chan struct{}
}

func (p *stalledNATS) InProcessConn() (net.Conn, error) {
	c, err := p.ns.InProcessConn()
	if err != nil {
		return nil, err
	}
	return &stalledConn{Conn: c, p: p}, nil
}

func (p *stalledNATS) stall() {
	p.mu.Lock()
	p.stalled, p.resumed = true, make(chan struct{})
	p.mu.Unlock()
}

func (p *stalledNATS) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resumed)
	}
}

// wait returns once the server's answers may pass, and whether they were
// stalled.
func (p *stalledNATS) wait() bool {
	p.mu.Lock()
	stalled, resumed := p.stalled, p.resumed
	p.mu.Unlock()
	if stalled {
		<-resumed
	}
	return stalled
}

type stalledConn struct {
	net.Conn
	p *stalledNATS
}

func (c *stalledConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.p.wait()
	return n, err
}

func (c *stalledConn) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	stalled := c.p.stalled
	c.p.mu.Unlock()
	if stalled && bytes.Contains(b, []byte("PING\r\n")) {
		select {
		case c.p.pinged <- struct{}{}:
		default:
		}
	}
	return c.Conn.Write(b)
}

// TestRoomSubscribeHoldsNoGatewayLock: while the gateway waits for the
// NATS server to confirm a new room's subscriptions, other connections
// still open, and a second join of the same canvas waits for that room
// and then joins it.
func TestRoomSubscribeHoldsNoGatewayLock(t *testing.T) {
	stalled := &stalledNATS{pinged: make(chan struct{}, 1)}
	s := newStackWith(t, stackOptions{gatewayConn: func(t testing.TB, ns *server.Server) *nats.Conn {
		stalled.ns = ns
		nc, err := nats.Connect("", nats.InProcessServer(stalled))
		if err != nil {
			t.Fatalf("nats connect: %v", err)
		}
		t.Cleanup(nc.Close)
		return nc
	}})
	t.Cleanup(stalled.resume)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	a := s.dial(aTok)
	b := s.dial(bTok)

	stalled.stall()
	a.send(map[string]any{"type": "join", "canvas": cid})
	select {
	case <-stalled.pinged:
	case <-time.After(5 * time.Second):
		t.Fatal("the join did not flush the room's subscriptions")
	}
	c, err := s.dialErr("?token=" + bTok)
	if err != nil {
		t.Fatalf("dial while a room subscribes: %v", err)
	}
	if f, err := c.nextErr(5 * time.Second); err != nil || f.Type != "hello" {
		t.Fatalf("connect while a room subscribes: got %s, %v; want hello (the gateway's lock must not be held while NATS answers)", f.Raw, err)
	}
	b.send(map[string]any{"type": "join", "canvas": cid})

	stalled.resume()
	for _, cl := range []*client{a, b} {
		if f := cl.next(); f.Type != "joined" || f.Canvas != cid {
			t.Fatalf("join: got %s; want joined %s", f.Raw, cid)
		}
	}
	seq := s.commit(cid, aID, "1", addNodeOp("n1"))
	a.changes(0, seq)
	b.changes(0, seq)
	s.gw.mu.Lock()
	n := s.gw.rooms[cid].refs
	s.gw.mu.Unlock()
	if n != 2 {
		t.Errorf("room refs: got %d; want 2 (both joins in one room)", n)
	}
}
