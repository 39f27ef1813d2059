package testnode_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/testkit/testnode"
)

// TestPrefixesShareOneNATS: two deployments with different NATS prefixes
// on one NATS server, each with a canvas of the same id, keep their
// journals, fanout and presence apart: a client of one never sees a change
// or a presence of the other, and each journal holds only its own batches.
//
// Leaks are seen by order, not by waiting: a message of the other
// deployment on a subject this one hears would be routed to this one
// before the change or presence the client then waits for, which comes on
// the same subject.
func TestPrefixesShareOneNATS(t *testing.T) {
	ns := testkit.NATSServer(t)
	other, err := natsname.New("OTHER")
	if err != nil {
		t.Fatal(err)
	}
	a := testnode.StartNode(t, testnode.NodeConfig{NATS: ns})
	b := testnode.StartNode(t, testnode.NodeConfig{NATS: ns, Names: other})
	aTok, bTok := ownCanvas(t, a, "c1"), ownCanvas(t, b, "c1")
	a1, a2 := dial(t, a, aTok), dial(t, a, aTok)
	b1, b2 := dial(t, b, bTok), dial(t, b, bTok)

	// Changes. a1's change reaches a1, so it has been routed to every
	// gateway that hears its subject.
	a1.submit("a-1", "na1")
	a1.wantChanges(1, "a-1")
	b1.submit("b-1", "nb1")
	b1.wantChanges(1, "b-1") // a leak of a-1 would come first, as seq 1
	b1.submit("b-2", "nb2")
	b1.wantChanges(2, "b-2")
	a1.submit("a-2", "na2")
	a1.wantChanges(2, "a-2") // a leak of b-2 would come first, as seq 2

	// Presence.
	a1.send(map[string]any{"type": "presence", "canvas": "c1", "name": "from-a"})
	a2.wantPresence("from-a")
	b2.send(map[string]any{"type": "presence", "canvas": "c1", "name": "from-b"})
	b1.wantPresence("from-b") // a leak of from-a would come first

	_, js := testkit.Connect(t, ns)
	for _, tc := range []struct {
		n                *testnode.Node
		stream, subjects string
		want             []string
	}{
		{a, "SKER_JOURNAL", "sker.journal.*", []string{"a-1", "a-2"}},
		{b, "OTHER_JOURNAL", "other.journal.*", []string{"b-1", "b-2"}},
	} {
		if got := journalBatches(t, tc.n.Journal, "c1"); !slices.Equal(got, tc.want) {
			t.Errorf("%s of c1: got batches %q; want %q", tc.stream, got, tc.want)
		}
		st, err := js.Stream(context.Background(), tc.stream)
		if err != nil {
			t.Fatalf("stream %s: %v", tc.stream, err)
		}
		if got := st.CachedInfo().Config.Subjects; len(got) != 1 || got[0] != tc.subjects {
			t.Errorf("stream %s subjects: got %q; want [%s]", tc.stream, got, tc.subjects)
		}
	}
}

// ownCanvas registers a user on n, gives it a canvas with id, and returns
// its access token.
func ownCanvas(t *testing.T, n *testnode.Node, id string) string {
	t.Helper()
	ctx := context.Background()
	sess, err := n.Auth.Register(ctx, "owner@example.test", "password-owner", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := store.Canvas{ID: id, Title: "shared id", Settings: json.RawMessage(`{}`), CreatedBy: sess.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := n.Store.CreateCanvas(ctx, c, sess.User.ID); err != nil {
		t.Fatal(err)
	}
	return sess.AccessToken
}

// client is a WebSocket client joined to canvas c1.
type client struct {
	t    *testing.T
	conn *websocket.Conn
}

type frame struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Name    string `json:"name"`
	Batches []struct {
		Seq  uint64 `json:"seq"`
		CBID string `json:"cbid"`
	} `json:"batches"`
}

func dial(t *testing.T, n *testnode.Node, token string) *client {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(n.WSURL+"?token="+url.QueryEscape(token), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	c.next("hello")
	c.send(map[string]any{"type": "join", "canvas": "c1"})
	c.next("joined")
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// submit sends a batch that adds a note.
func (c *client) submit(cbid, node string) {
	c.t.Helper()
	c.send(map[string]any{"type": "ops", "canvas": "c1", "cbid": cbid,
		"ops": []any{map[string]any{"op": "node.add", "id": node, "kind": "note"}}})
}

// next reads frames until one of type typ, skipping acks and peers'
// presence.leave and failing on errors and rejects.
func (c *client) next(typ string) frame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Fatalf("frame %s: %v", data, err)
		}
		switch f.Type {
		case typ:
			return f
		case "error", "reject":
			c.t.Fatalf("waiting for %s: got %s", typ, data)
		}
	}
}

// wantChanges reads the next changes frame and wants it to be the one batch
// seq, sent as cbid.
func (c *client) wantChanges(seq uint64, cbid string) {
	c.t.Helper()
	f := c.next("changes")
	if len(f.Batches) != 1 || f.Batches[0].Seq != seq || f.Batches[0].CBID != cbid {
		c.t.Fatalf("changes: got %+v; want one batch, seq %d, cbid %s", f.Batches, seq, cbid)
	}
}

// wantPresence reads the next presence frame and wants the name in it.
func (c *client) wantPresence(name string) {
	c.t.Helper()
	if f := c.next("presence"); f.Name != name {
		c.t.Fatalf("presence: got name %q; want %q", f.Name, name)
	}
}

// journalBatches lists the client batch ids of the batches in a canvas's
// journal, in order.
func journalBatches(t *testing.T, j *journal.Journal, canvasID string) []string {
	t.Helper()
	var out []string
	if _, err := j.Read(context.Background(), canvasID, func(_ uint64, rec journal.Record) error {
		for _, raw := range rec.Batches {
			var b journal.Committed
			if err := json.Unmarshal(raw, &b); err != nil {
				return err
			}
			out = append(out, b.ClientBatchID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
