package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/textcheck"
)

// sendRaw writes one text message as it is.
func (c *client) sendRaw(data string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(data)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// TestTextFrameNotUTF8Closes1007: a text frame that is not valid UTF-8
// closes the connection with 1007 (RFC 6455 §8.1), as the first frame or
// later, through the listener and through the HTTP route alike; it is not
// decoded, so nothing of it is handled.
func TestTextFrameNotUTF8Closes1007(t *testing.T) {
	for _, routeOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "listener", true: "route"}[routeOnly], func(t *testing.T) {
			s := newStackWith(t, stackOptions{routeOnly: routeOnly})
			uid, tok := s.user("ann")
			id := s.canvas(uid, nil)

			c := s.dial(tok)
			c.join(id, nil)
			c.sendRaw("{\"type\":\"ops\",\"canvas\":\"" + id + "\",\"ops\":[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"text\",\"data\":{\"text\":\"\xff\xfe\"}}]}")
			if code, frames := c.closed(5 * time.Second); code != websocket.CloseInvalidFramePayloadData || len(frames) != 0 {
				t.Errorf("after a frame that is not UTF-8: got close %d after %d frames; want 1007 and none", code, len(frames))
			}
			if seq := s.snapshotSeq(id); seq != 0 {
				t.Errorf("canvas seq: got %d; want 0 (nothing committed)", seq)
			}

			first, err := s.dialErr("")
			if err != nil {
				t.Fatal(err)
			}
			first.sendRaw("{\"type\":\"auth\",\"token\":\"" + tok + "\xc3\"}")
			if code, _ := first.closed(5 * time.Second); code != websocket.CloseInvalidFramePayloadData {
				t.Errorf("after a first frame that is not UTF-8: got close %d; want 1007", code)
			}
		})
	}
}

// snapshotSeq is the committed seq of a canvas.
func (s *stack) snapshotSeq(id string) uint64 {
	s.t.Helper()
	ex, err := s.hub.Snapshot(context.Background(), id)
	if err != nil {
		s.t.Fatalf("snapshot: %v", err)
	}
	return ex.Seq
}

// TestInvalidTextRejected: an ops frame holding a string with U+0000 or a
// lone surrogate (valid UTF-8 as JSON escapes) is rejected with
// invalid_text, to its sender only, at the op that holds it, and commits
// nothing, on SQLite and PostgreSQL alike; other frames with such text are
// answered with an error of that code. The canvas then takes a valid batch
// as seq 1, exports only accepted text and checkpoints at seq 1.
func TestInvalidTextRejected(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s := newStackWith(t, stackOptions{postgres: kind == "postgres"})
			ann, annTok := s.user("ann")
			bob, bobTok := s.user("bob")
			id := s.canvas(ann, map[string]store.Role{bob: store.RoleEditor})
			a, b := s.dial(annTok), s.dial(bobTok)
			a.join(id, nil)
			b.join(id, nil)
			b.quiet("b0")

			ops := func(cbid, ops string) string {
				return `{"type":"ops","canvas":"` + id + `","cbid":"` + cbid + `","ops":[` + ops + `]}`
			}
			for _, tc := range []struct {
				name, frame string
				index       int // -1: none
				msg         string
			}{
				{"data NUL", ops("t1", `{"op":"node.add","id":"n1","kind":"text","data":{"text":"a\u0000b"}}`), 0, "data.text: holds U+0000"},
				{"set surrogate", ops("t2", `{"op":"node.add","id":"n1","kind":"text"},{"op":"node.update","id":"n1","set":{"data.t":"\ud800"}}`), 1, `set["data.t"]: holds an unpaired`},
				{"data key", ops("t3", `{"op":"node.add","id":"n1","kind":"text","data":{"\udfff":1}}`), 0, "data: has a key that holds an unpaired"},
				{"title", ops("t4", `{"op":"canvas.update","title":"T\u0000"}`), 0, "title: holds U+0000"},
				{"settings", ops("t5", `{"op":"canvas.update","settings":{"s":["\udc00"]}}`), 0, "settings.s[0]: holds an unpaired"},
				{"id", ops("t6", `{"op":"node.add","id":"n\u0000","kind":"text"}`), 0, "id: holds U+0000"},
				{"edge data", ops("t7", `{"op":"node.add","id":"n1","kind":"text"},{"op":"node.add","id":"n2","kind":"text"},`+
					`{"op":"edge.add","id":"e","source":"n1","target":"n2","data":{"l":"\u0000"}}`), 2, "data.l: holds U+0000"},
				{"cbid", ops(`t8\u0000`, `{"op":"node.add","id":"n1","kind":"text"}`), -1, "cbid: holds U+0000"},
			} {
				a.sendRaw(tc.frame)
				f := a.next()
				var want struct {
					CBID string `json:"cbid"`
				}
				_ = json.Unmarshal([]byte(tc.frame), &want)
				switch {
				case f.Type != "reject" || f.Code != "invalid_text" || f.Canvas != id || f.CBID != want.CBID:
					t.Errorf("%s: got %s; want a reject invalid_text with cbid %q", tc.name, f.Raw, want.CBID)
				case tc.index < 0 && f.Index != nil, tc.index >= 0 && (f.Index == nil || *f.Index != tc.index):
					t.Errorf("%s: got %s; want index %d", tc.name, f.Raw, tc.index)
				case !strings.HasPrefix(f.Message, tc.msg):
					t.Errorf("%s: got message %q; want it to start with %q", tc.name, f.Message, tc.msg)
				}
			}
			for _, tc := range []struct{ name, frame, msg string }{
				{"presence", `{"type":"presence","canvas":"` + id + `","name":"Ann\u0000"}`, "name: holds U+0000"},
				{"ping", `{"type":"ping","id":"\ud83d"}`, "id: holds an unpaired"},
			} {
				a.sendRaw(tc.frame)
				if f := a.next(); f.Type != "error" || f.Code != "invalid_text" || !strings.HasPrefix(f.Message, tc.msg) {
					t.Errorf("%s: got %s; want an error invalid_text %q…", tc.name, f.Raw, tc.msg)
				}
			}
			a.sendRaw(ops("ok", `{"op":"node.add","id":"n1","kind":"text","data":{"text":"\ud83d\ude00 \\u0000"}}`))
			if f := a.until("ack"); f.CBID != "ok" || f.Seq != 1 {
				t.Errorf("valid batch after the rejected ones: got %s; want ack ok at seq 1", f.Raw)
			}
			// The peer saw no presence or change of the rejected frames.
			if f := b.next(); f.Type != "changes" || len(f.Batches) != 1 || f.batchSeqs()[0] != 1 {
				t.Errorf("peer's next frame: got %s; want the changes of seq 1", f.Raw)
			}
			snap := s.snapshotJSON(id)
			if !utf8.Valid(snap) || textcheck.JSON(snap) != nil {
				t.Errorf("snapshot %s: holds refused text", snap)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.hub.Shutdown(ctx); err != nil {
				t.Fatalf("hub shutdown: %v", err)
			}
			if cp, err := s.store.LoadCheckpoint(ctx, id); err != nil || cp.Seq != 1 || len(cp.Nodes) != 1 {
				t.Errorf("checkpoint: got seq %d with %d nodes, %v; want seq 1 with 1 node", cp.Seq, len(cp.Nodes), err)
			}
		})
	}
}

// TestCloseFrameOneBytePayload: a close frame whose payload is one byte
// (RFC 6455 §5.5.1 allows none, or a two-byte code) is answered with 1002;
// one without a payload, or with a code, with 1000.
func TestCloseFrameOneBytePayload(t *testing.T) {
	s := newStack(t, nil, nil)
	_, tok := s.user("ann")
	for _, tc := range []struct {
		name    string
		payload []byte
		want    int
	}{
		{"one byte", []byte{0x03}, websocket.CloseProtocolError},
		{"empty", nil, websocket.CloseNormalClosure},
		{"code", websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), websocket.CloseNormalClosure},
	} {
		c := s.dial(tok)
		c.quiet("q")
		if err := c.conn.WriteControl(websocket.CloseMessage, tc.payload, time.Now().Add(time.Second)); err != nil {
			t.Fatalf("%s: write close: %v", tc.name, err)
		}
		if code, _ := c.closed(5 * time.Second); code != tc.want {
			t.Errorf("%s: got close %d; want %d", tc.name, code, tc.want)
		}
	}
}
