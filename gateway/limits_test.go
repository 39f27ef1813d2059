package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

func TestFrameOverSizeLimit(t *testing.T) {
	const limit = 4096
	s := newStack(t, func(c *Config) { c.Limits.MaxFrameBytes = limit }, nil)
	_, tok := s.user("a")
	c, hello := s.hello(tok)
	if hello.Limits == nil || hello.Limits.MaxFrameBytes != limit {
		t.Fatalf("hello: got %s; want max_frame_bytes %d", hello.Raw, limit)
	}
	c.send(map[string]any{"type": "ping", "id": strings.Repeat("p", limit-100)}) // fits
	if f := c.next(); f.Type != "pong" {
		t.Fatalf("got %.100s; want pong", f.Raw)
	}
	c.send(map[string]any{"type": "ping", "id": strings.Repeat("p", limit)})
	if code, _ := c.closed(5 * time.Second); code != websocket.CloseMessageTooBig {
		t.Fatalf("close: got %d; want %d", code, websocket.CloseMessageTooBig)
	}
	eventually(t, 5*time.Second, "connection dropped", func() bool { return s.gw.Connections() == 0 })
}

func TestMalformedFrames(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, tok := s.user("a")
	cid := s.canvas(aID, nil)
	c := s.dial(tok)
	bad := []string{
		`not json`,
		`{"type":"ping"`,
		`[]`,
		`{"type":""}`,
		`{}`,
		`{"type":"nope"}`,
		`{"type":"ping","bogus":1}`,
		`{"type":"join"}`,
		`{"type":"leave"}`,
		`{"type":"presence"}`,
		`{"type":"ops","ops":[]}`,
		`{"type":"ops","canvas":"` + cid + `","cbid":"` + strings.Repeat("c", 65) + `","ops":[]}`,
		`{"type":"ops","canvas":"` + cid + `","ops":{}}`,
		`{"type":"auth"}`,
		`{"type":"presence","canvas":"` + cid + `","name":"` + strings.Repeat("n", 101) + `"}`,
		`{"type":"ping"} {"type":"ping"}`,
		`{"type":"ping","since":1}`,
		`{"type":"join","canvas":"` + cid + `","since":-1}`,
	}
	for i, frame := range bad {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		if f := c.next(); f.Type != "error" || f.Code != apierr.CodeBadFrame || f.Message == "" {
			t.Fatalf("frame %d %.80q: got %s; want error bad_frame", i, frame, f.Raw)
		}
	}
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if f := c.next(); f.Type != "error" || f.Code != apierr.CodeBadFrame {
		t.Fatalf("binary frame: got %s; want error bad_frame", f.Raw)
	}
	c.quiet("still-open") // 19 malformed frames are tolerated
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`nope`)); err != nil {
		t.Fatal(err)
	}
	code, frames := c.closed(5 * time.Second)
	if code != apierr.CloseProtocolError {
		t.Fatalf("close after the 20th malformed frame: got %d; want %d", code, apierr.CloseProtocolError)
	}
	for _, f := range frames {
		if f.Code != apierr.CodeBadFrame {
			t.Fatalf("before the close: got %s; want at most the bad_frame error", f.Raw)
		}
	}
}

func TestTooManyCanvases(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Limits.MaxCanvases = 2 }, nil)
	aID, tok := s.user("a")
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = s.canvas(aID, nil)
	}
	c := s.dial(tok)
	c.join(ids[0], nil)
	c.join(ids[1], nil)
	c.send(map[string]any{"type": "join", "canvas": ids[2]})
	if f := c.next(); f.Type != "error" || f.Code != apierr.CodeTooManyCanvases || f.Canvas != ids[2] {
		t.Fatalf("third join: got %s; want error too_many_canvases", f.Raw)
	}
	c.join(ids[1], nil) // joining a canvas again is not one more
	c.send(map[string]any{"type": "leave", "canvas": ids[0]})
	if f := c.next(); f.Type != "left" || f.Canvas != ids[0] {
		t.Fatalf("leave: got %s; want left", f.Raw)
	}
	c.join(ids[2], nil)
}

func TestRateLimit(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Limits.OpsPerSecond, c.Limits.OpsBurst = 1, 3 }, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleViewer})
	a, b := s.dial(aTok), s.dial(bTok)
	a.join(cid, nil)
	b.join(cid, nil)
	a.send(opsFrame(cid, "burst", addNodeOp("n1"), addNodeOp("n2"), addNodeOp("n3")))
	if f := a.until("ack"); f.CBID != "burst" || f.Seq != 1 {
		t.Fatalf("got %s; want ack of burst at seq 1", f.Raw)
	}
	a.send(opsFrame(cid, "over", addNodeOp("n4")))
	for {
		f := a.next()
		if f.Type == "changes" {
			continue
		}
		if f.Type != "reject" || f.Code != apierr.CodeRateLimited || f.CBID != "over" || f.Index != nil {
			t.Fatalf("got %s; want reject rate_limited for cbid over", f.Raw)
		}
		break
	}
	b.changes(0, 1)
	b.quiet("nothing-else")
}

func TestNotJoined(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, tok := s.user("a")
	cid := s.canvas(aID, nil)
	c := s.dial(tok)
	c.send(opsFrame(cid, "x", addNodeOp("n1")))
	if f := c.next(); f.Type != "reject" || f.Code != apierr.CodeNotJoined || f.CBID != "x" || f.Canvas != cid {
		t.Fatalf("ops: got %s; want reject not_joined for cbid x", f.Raw)
	}
	c.send(presenceMsg(cid, 1, 2))
	if f := c.next(); f.Type != "error" || f.Code != apierr.CodeNotJoined || f.Canvas != cid {
		t.Fatalf("presence: got %s; want error not_joined", f.Raw)
	}
	c.send(map[string]any{"type": "leave", "canvas": cid})
	if f := c.next(); f.Type != "error" || f.Code != apierr.CodeNotJoined || f.Canvas != cid {
		t.Fatalf("leave: got %s; want error not_joined", f.Raw)
	}
	if got := s.snapshotJSON(cid); !strings.Contains(string(got), `"seq":0`) {
		t.Fatalf("snapshot: got %s; want seq 0", got)
	}
}

func TestPingPong(t *testing.T) {
	s := newStack(t, nil, nil)
	_, tok := s.user("a")
	c := s.dial(tok)
	for _, id := range []string{"1", "abc", ""} {
		c.send(map[string]any{"type": "ping", "id": id})
		if f := c.next(); f.Type != "pong" || f.ID != id {
			t.Fatalf("ping %q: got %s; want pong with the same id", id, f.Raw)
		}
	}
}

// TestKeepalive: the server pings every PingInterval; a client that answers
// (any client that reads) stays connected, one that sends nothing for 2.5
// intervals is closed with 4010.
func TestKeepalive(t *testing.T) {
	const interval = 100 * time.Millisecond
	s := newStack(t, func(c *Config) { c.PingInterval = interval }, nil)
	_, tok := s.user("a")
	live := s.dial(tok)
	pings := make(chan struct{}, 100)
	live.conn.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return live.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	idle := s.dial(tok)
	// The live client reads (and so answers pings) for 6 intervals.
	_ = live.conn.SetReadDeadline(time.Now().Add(6 * interval))
	if _, _, err := live.conn.ReadMessage(); err == nil {
		t.Fatal("live client: got a frame; want none")
	}
	if n := len(pings); n < 3 {
		t.Fatalf("live client: got %d pings in %v; want about %d", n, 6*interval, 6)
	}
	// The idle client is gone, the live one is not.
	eventually(t, 5*time.Second, "idle client dropped", func() bool { return s.gw.Connections() == 1 })
	code, _ := idle.closed(5 * time.Second)
	if code != apierr.CloseIdle {
		t.Fatalf("idle client: got close %d; want %d", code, apierr.CloseIdle)
	}
}
