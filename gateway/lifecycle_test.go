package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

func TestLeave(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	a, b := s.dial(aTok), s.dial(bTok)
	a.join(cid, nil)
	b.join(cid, nil)
	first := s.commit(cid, aID, "1", addNodeOp("n1"))
	a.changes(0, first)
	a.send(map[string]any{"type": "leave", "canvas": cid})
	if f := a.next(); f.Type != "left" || f.Canvas != cid {
		t.Fatalf("leave: got %s; want left", f.Raw)
	}
	second := s.commit(cid, aID, "2", setTextOp("n1", "after leave"))
	b.changes(0, second) // delivered to the room's members by now
	a.quiet("after-leave")
	a.send(opsFrame(cid, "x", setTextOp("n1", "x")))
	if f := a.next(); f.Type != "reject" || f.Code != apierr.CodeNotJoined {
		t.Fatalf("ops after leave: got %s; want reject not_joined", f.Raw)
	}
	// Rejoining with the seq seen before leaving catches up exactly.
	a.join(cid, &first)
	a.changes(first, second)
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	a, b := s.dial(aTok), s.dial(aTok)
	a.join(cid, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for name, c := range map[string]*client{"a": a, "b": b} {
		if code, _ := c.closed(5 * time.Second); code != websocket.CloseGoingAway {
			t.Errorf("%s: got close %d; want %d", name, code, websocket.CloseGoingAway)
		}
	}
	if n := s.gw.Connections(); n != 0 {
		t.Fatalf("connections after shutdown: got %d; want 0", n)
	}
	late := s.dialWith(dialer(0), "?token="+aTok)
	if code, _ := late.closed(5 * time.Second); code != websocket.CloseGoingAway {
		t.Fatalf("connection after shutdown: got close %d; want %d", code, websocket.CloseGoingAway)
	}
}

// TestSlowConsumerIsDropped: a client that stops reading is closed with 4008
// once its send queue overflows, and the canvas and its other clients carry
// on: they receive every change.
func TestSlowConsumerIsDropped(t *testing.T) {
	const (
		changes      = 20 // 1.2 MB; the socket buffers and queue hold about 10 of them
		writeTimeout = 10 * time.Second
	)
	s := newStackWith(t, stackOptions{
		gateway: func(c *Config) {
			c.Limits.SendQueue = 8
			// The write blocked on the slow client's full socket must still
			// be waiting when the client reads again (a few hundred ms
			// later): then the close frame follows the data and the client
			// learns why it was dropped. A write that times out drops the
			// connection without a close frame.
			c.WriteTimeout = writeTimeout
		},
		sendBuffer: 16 << 10,
	})
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	base := s.commit(cid, aID, "add", addNodeOp("n1"))
	fast := s.dial(aTok)
	fast.join(cid, nil)
	slow := s.dialWith(dialer(16<<10), "?token="+aTok)
	if f := slow.next(); f.Type != "hello" {
		t.Fatalf("got %s; want hello", f.Raw)
	}
	slow.join(cid, nil)

	// The slow client reads nothing until every change is committed and the
	// fast client has it.
	began := time.Now()
	var head uint64
	for i := range changes {
		blob := strings.Repeat(string(rune('a'+i%26)), 60_000)
		head = s.commit(cid, aID, fmt.Sprint(i), setTextOp("n1", blob))
		fast.changes(head-1, head)
	}
	if took := time.Since(began); took > writeTimeout/2 {
		t.Fatalf("committing %d changes took %v; the test needs it well under the write timeout %v", changes, took, writeTimeout)
	}

	code, frames := slow.closed(writeTimeout)
	last := base
	for _, f := range frames {
		if f.Type != "changes" {
			t.Fatalf("slow client: got %.100s; want only changes", f.Raw)
		}
		for _, seq := range f.batchSeqs() {
			if seq != last+1 {
				t.Fatalf("slow client: got seq %d; want %d", seq, last+1)
			}
			last = seq
		}
	}
	if code != apierr.CloseSlowConsumer {
		t.Fatalf("slow client: got close %d after seq %d; want %d", code, last, apierr.CloseSlowConsumer)
	}
	if last >= head {
		t.Fatalf("slow client: got every change up to %d; want it dropped before", head)
	}
	eventually(t, 5*time.Second, "slow client's session ended", func() bool { return s.gw.Connections() == 1 })
	// The fast client is still live.
	next := s.commit(cid, aID, "after", setTextOp("n1", "small"))
	fast.changes(head, next)
}

// TestStalledClientIsDropped: a client that never reads again blocks the
// server's write on its full socket; the write gives up after WriteTimeout
// and the session ends, rather than holding its goroutines and socket for
// as long as the client stays connected.
func TestStalledClientIsDropped(t *testing.T) {
	const writeTimeout = 500 * time.Millisecond
	s := newStackWith(t, stackOptions{
		gateway: func(c *Config) {
			c.WriteTimeout = writeTimeout
			// Large enough that the queue does not overflow first: the
			// session must end because the write timed out.
			c.Limits.SendQueue = 1024
		},
		sendBuffer: 16 << 10,
	})
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	s.commit(cid, aID, "add", addNodeOp("n1"))
	stalled := s.dialWith(dialer(16<<10), "?token="+aTok)
	if f := stalled.next(); f.Type != "hello" {
		t.Fatalf("got %s; want hello", f.Raw)
	}
	stalled.join(cid, nil)
	// The client reads nothing more: 10 changes of 60 KB fill both socket
	// buffers, and the server's write blocks.
	for i := range 10 {
		s.commit(cid, aID, fmt.Sprint(i), setTextOp("n1", strings.Repeat("x", 60_000)))
	}
	eventually(t, 10*writeTimeout, "stalled client's session ended", func() bool { return s.gw.Connections() == 0 })
}

// TestKilledSessionHandlesNothingMore: once a session is closed (here for
// its 20th malformed frame) the frames already on their way are dropped, not
// handled: the ops that follow the fatal frame commit nothing.
func TestKilledSessionHandlesNothingMore(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	c := s.dial(aTok)
	c.join(cid, nil)
	for range 19 {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte("{")); err != nil {
			t.Fatal(err)
		}
		if f := c.next(); f.Code != apierr.CodeBadFrame {
			t.Fatalf("got %s; want error bad_frame", f.Raw)
		}
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte("{")); err != nil {
		t.Fatal(err)
	}
	c.send(opsFrame(cid, "late", addNodeOp("late")))
	if code, _ := c.closed(5 * time.Second); code != apierr.CloseProtocolError {
		t.Fatalf("got close %d; want %d", code, apierr.CloseProtocolError)
	}
	eventually(t, 5*time.Second, "session ended", func() bool { return s.gw.Connections() == 0 })
	if seq := s.commit(cid, aID, "probe", addNodeOp("probe")); seq != 1 {
		t.Fatalf("probe: got seq %d; want 1 (the ops sent after the fatal frame were committed)", seq)
	}
}
