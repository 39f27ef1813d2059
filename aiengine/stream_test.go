package aiengine_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/store"
)

// wsClient is a minimal client of the WebSocket protocol that rebuilds the
// answers it is streamed.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	text map[string]string // node → answer so far from ai.text and ai.delta
	// final is the answer committed to the card, from changes frames.
	final map[string]string
}

func (f *fixture) dial(token string) *wsClient {
	f.t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(f.node.WSURL+"?token="+url.QueryEscape(token), nil)
	if err != nil {
		f.t.Fatalf("dial: %v", err)
	}
	f.t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: f.t, conn: conn, text: map[string]string{}, final: map[string]string{}}
	if err := conn.WriteJSON(map[string]any{"type": "join", "canvas": f.canvas}); err != nil {
		f.t.Fatal(err)
	}
	return c
}

type serverFrame struct {
	Type    string `json:"type"`
	Node    string `json:"node"`
	Run     string `json:"run"`
	Offset  int    `json:"offset"`
	Delta   string `json:"delta"`
	Text    string `json:"text"`
	Batches []struct {
		Ops []struct {
			ID  string                     `json:"id"`
			Set map[string]json.RawMessage `json:"set"`
		} `json:"ops"`
	} `json:"batches"`
}

// readUntil reads frames, applying AI frames, until cond holds.
func (c *wsClient) readUntil(what string, cond func() bool) (deltas int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s (text %q, final %q)", what, c.text, c.final)
		}
		_ = c.conn.SetReadDeadline(deadline)
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var f serverFrame
		_ = json.Unmarshal(data, &f)
		switch f.Type {
		case "ai.text":
			c.text[f.Node] = f.Text
		case "ai.delta":
			deltas++
			if f.Offset == len(c.text[f.Node]) {
				c.text[f.Node] += f.Delta
			}
		case "changes":
			for _, b := range f.Batches {
				for _, op := range b.Ops {
					if raw, ok := op.Set["data.answer"]; ok {
						c.final[op.ID] = str(raw)
					}
				}
			}
		}
	}
	return deltas
}

// TestTwoClientsWatchTheAnswerStream: both clients receive the deltas live
// and the same final text; a client joining mid-run first gets the text so
// far, then the rest.
func TestTwoClientsWatchTheAnswerStream(t *testing.T) {
	f := newFixture(t, nil)
	words := strings.Fields("the quick brown fox jumps over the lazy dog again and again")
	var deltas []string
	for _, w := range words {
		deltas = append(deltas, w+" ")
	}
	want := strings.Join(deltas, "")
	f.srv.SetDefault(aitest.Reply{Deltas: deltas, Delay: 80 * time.Millisecond, InputTokens: 5, OutputTokens: len(words)})
	sess, err := f.node.Auth.Register(t.Context(), "b@example.test", "password-b", "B")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.node.Store.AddMember(t.Context(), f.canvas, sess.User.ID, store.RoleEditor, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.must(aiCard("q", "tell me"))
	a, b := f.dial(f.token), f.dial(sess.AccessToken)
	a.readUntil("a joined", func() bool { return true })
	if err := a.conn.WriteJSON(map[string]any{"type": "ops", "canvas": f.canvas, "cbid": "r", "ops": []any{map[string]any{"op": aicard.OpRun, "id": "q"}}}); err != nil {
		t.Fatal(err)
	}
	// A third client joins once some text has streamed.
	a.readUntil("some text", func() bool { return len(a.text["q"]) > 10 })
	late := f.dial(f.token)
	late.readUntil("the text so far", func() bool { return late.text["q"] != "" })
	if !strings.HasPrefix(want, late.text["q"]) {
		t.Fatalf("late joiner's text so far %q is not a prefix of the answer", late.text["q"])
	}
	for name, c := range map[string]*wsClient{"a": a, "b": b, "late": late} {
		n := c.readUntil(name+"'s final answer", func() bool { return c.final["q"] != "" })
		if c.text["q"] != want || c.final["q"] != want {
			t.Fatalf("%s: streamed %q, final %q; want %q for both", name, c.text["q"], c.final["q"], want)
		}
		if name == "b" && n < 3 {
			t.Fatalf("b got %d delta frames; want the answer streamed in several", n)
		}
	}
}
