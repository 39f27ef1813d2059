package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// wsClient is one WebSocket connection joined to one canvas, as a studio
// tab is: it sends batches and records every frame the server sends back.
// A reader goroutine keeps the record; the test reads it under mu.
type wsClient struct {
	name   string
	conn   *websocket.Conn
	canvas string

	writeMu sync.Mutex

	mu      sync.Mutex
	joined  uint64              // the seq of the joined frame
	seqs    []uint64            // seqs of the batches received in changes, in order
	acks    map[string]uint64   // cbid → seq
	rejects map[string][]string // cbid → codes, in order
	closed  error               // why the connection ended, nil while it is open
	peers   map[string]bool     // sessions seen in presence frames
	ai      map[string]string   // run → its answer as streamed (ai.text, ai.delta)
	aiEnded map[string]bool     // runs whose ai.end came
	changed chan struct{}       // signalled on each frame
}

// dialCanvas opens a WebSocket to s as token and joins canvasID.
func dialCanvas(t *testing.T, name string, s *Sker, token, canvasID string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws?token=" + token
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, s.URL(), err)
	}
	c := &wsClient{name: name, conn: conn, canvas: canvasID, acks: map[string]uint64{}, rejects: map[string][]string{},
		peers: map[string]bool{}, ai: map[string]string{}, aiEnded: map[string]bool{}, changed: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.Close() })
	go c.read()
	c.send(t, map[string]any{"type": "join", "canvas": canvasID})
	c.waitFor(t, 30*time.Second, "joined", func() bool { return c.seqs != nil })
	return c
}

func (c *wsClient) read() {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closed = err
			c.mu.Unlock()
			c.signal()
			return
		}
		var f struct {
			Type    string `json:"type"`
			Seq     uint64 `json:"seq"`
			Cbid    string `json:"cbid"`
			Code    string `json:"code"`
			Session string `json:"session"`
			Run     string `json:"run"`
			Offset  int    `json:"offset"`
			Text    string `json:"text"`
			Delta   string `json:"delta"`
			Batches []struct {
				Seq uint64 `json:"seq"`
			} `json:"batches"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		c.mu.Lock()
		switch f.Type {
		case "joined":
			c.joined = f.Seq
			if c.seqs == nil {
				c.seqs = []uint64{}
			}
		case "changes":
			for _, b := range f.Batches {
				c.seqs = append(c.seqs, b.Seq)
			}
		case "ack":
			c.acks[f.Cbid] = f.Seq
		case "reject":
			c.rejects[f.Cbid] = append(c.rejects[f.Cbid], f.Code)
		case "presence":
			c.peers[f.Session] = true
		case "ai.text":
			c.ai[f.Run] = f.Text
		case "ai.delta":
			if f.Offset == len(c.ai[f.Run]) { // a delta that does not continue the text is dropped, as the studio does
				c.ai[f.Run] += f.Delta
			}
		case "ai.end":
			c.aiEnded[f.Run] = true
		}
		c.mu.Unlock()
		c.signal()
	}
}

func (c *wsClient) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *wsClient) send(t *testing.T, frame any) {
	t.Helper()
	if err := c.trySend(frame); err != nil {
		t.Fatalf("%s: send: %v", c.name, err)
	}
}

func (c *wsClient) trySend(frame any) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteJSON(frame)
}

// addNode sends a batch of one node.add with id and cbid.
func (c *wsClient) addNode(id, cbid string) error {
	return c.trySend(map[string]any{"type": "ops", "canvas": c.canvas, "cbid": cbid,
		"ops": []map[string]any{{"op": "node.add", "id": id, "kind": "note"}}})
}

// waitFor waits until cond (called under mu) holds, failing after d or
// when the connection ends.
func (c *wsClient) waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		ok, closed := cond(), c.closed
		c.mu.Unlock()
		if ok {
			return
		}
		if closed != nil {
			t.Fatalf("%s: waiting for %s: connection ended: %v", c.name, what, closed)
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%s: no %s within %v", c.name, what, d)
		}
	}
}

// outcome is the ack or the last reject of cbid so far.
func (c *wsClient) outcome(cbid string) (seq uint64, reject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.acks[cbid]; ok {
		return s, ""
	}
	if r := c.rejects[cbid]; len(r) > 0 {
		return 0, r[len(r)-1]
	}
	return 0, ""
}

// checkStream fails unless the batches received follow joined with no
// gap and no duplicate, up to at least upTo.
func (c *wsClient) checkStream(t *testing.T, upTo uint64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	want := c.joined + 1
	for i, s := range c.seqs {
		if s != want {
			t.Fatalf("%s: changes after joined at %d: batch %d has seq %d; want %d (no gap, no duplicate); seqs %v",
				c.name, c.joined, i, s, want, brief64(c.seqs))
		}
		want++
	}
	if want-1 < upTo {
		t.Fatalf("%s: changes reached seq %d; want %d", c.name, want-1, upTo)
	}
}

// open reports whether the connection is still open.
func (c *wsClient) open() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func brief64(s []uint64) string {
	if len(s) <= 20 {
		return fmt.Sprint(s)
	}
	return fmt.Sprint(s[:10], "…", s[len(s)-10:])
}
