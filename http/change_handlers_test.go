package skerhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	skerhttp "github.com/skerhq/sker/http"
	"github.com/skerhq/sker/journal"
)

// op is one op as a client sends it.
type op = map[string]any

func textNode(id string, x, y float64) op {
	return op{"op": "node.add", "id": id, "kind": "text", "x": x, "y": y, "data": map[string]any{"text": "hi " + id}}
}

func edgeOp(id, source, target string) op {
	return op{"op": "edge.add", "id": id, "source": source, "target": target}
}

func opsBody(cbid string, ops ...op) map[string]any {
	b := map[string]any{"ops": ops}
	if cbid != "" {
		b["cbid"] = cbid
	}
	return b
}

// submit posts ops as one batch and returns its seq.
func (h *harness) submit(token, id string, ops ...op) uint64 {
	h.t.Helper()
	var out struct{ Seq uint64 }
	h.post("/api/v1/canvases/"+id+"/ops", token, opsBody("", ops...)).decode(h.t, http.StatusOK, &out)
	return out.Seq
}

type snapshotBody struct {
	canvasBody
	Seq   uint64        `json:"seq"`
	Nodes []canvas.Node `json:"nodes"`
	Edges []canvas.Edge `json:"edges"`
}

// content is what a change may alter, as comparable text.
func (s snapshotBody) content(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal([]any{s.Title, s.Settings, s.Seq, s.Nodes, s.Edges})
	if err != nil {
		t.Fatalf("marshal snapshot: %v", err)
	}
	return string(b)
}

// snapshot reads the canvas through GET /api/v1/canvases/:id.
func (h *harness) snapshot(token, id string) snapshotBody {
	h.t.Helper()
	var s snapshotBody
	h.get("/api/v1/canvases/"+id, token).decode(h.t, http.StatusOK, &s)
	return s
}

func TestSubmitOps(t *testing.T) {
	h := newHarness(t)
	c := newCast(h)
	id := h.sharedCanvas(c)

	empty := h.snapshot(c.viewer.AccessToken, id)
	if empty.Seq != 0 || empty.Nodes == nil || len(empty.Nodes) != 0 || empty.Edges == nil || len(empty.Edges) != 0 {
		t.Fatalf("new canvas: got seq %d, nodes %v, edges %v; want 0 and empty arrays", empty.Seq, empty.Nodes, empty.Edges)
	}
	if got := h.submit(c.owner.AccessToken, id, textNode("a", 10, 20), textNode("b", 30, 40)); got != 1 {
		t.Fatalf("first batch: got seq %d; want 1", got)
	}
	if got := h.submit(c.editor.AccessToken, id, edgeOp("e", "a", "b")); got != 2 {
		t.Fatalf("second batch: got seq %d; want 2", got)
	}
	var out struct{ Seq uint64 }
	h.post("/api/v1/canvases/"+id+"/ops", c.editor.AccessToken, opsBody("batch-7",
		op{"op": "node.update", "id": "a", "set": map[string]any{"x": 15, "data.text": "moved"}})).
		decode(t, http.StatusOK, &out)
	if out.Seq != 3 {
		t.Fatalf("third batch: got seq %d; want 3", out.Seq)
	}

	s := h.snapshot(c.viewer.AccessToken, id)
	if s.Seq != 3 || len(s.Nodes) != 2 || len(s.Edges) != 1 || s.Role != "viewer" || s.Title != "Shared" {
		t.Fatalf("got seq %d, %d nodes, %d edges, role %s, title %q; want 3, 2, 1, viewer, Shared",
			s.Seq, len(s.Nodes), len(s.Edges), s.Role, s.Title)
	}
	a := s.Nodes[0]
	if a.ID != "a" || a.X != 15 || a.Y != 20 || string(a.Data["text"]) != `"moved"` || a.Author != c.owner.User.ID {
		t.Fatalf("got node %+v; want the owner's a at (15,20) with text moved", a)
	}
	if e := s.Edges[0]; e.ID != "e" || e.Source != "a" || e.Target != "b" || e.Author != c.editor.User.ID {
		t.Fatalf("got edge %+v; want e from a to b by the editor", e)
	}

	var hist historyBody
	h.get("/api/v1/canvases/"+id+"/history?since=2", c.owner.AccessToken).decode(t, http.StatusOK, &hist)
	if len(hist.Batches) != 1 || hist.Batches[0].ClientBatchID != "batch-7" || hist.Batches[0].Author != c.editor.User.ID {
		t.Fatalf("got history %+v; want batch 3 with cbid batch-7 by the editor", hist)
	}
}

func TestSubmitOpsRejected(t *testing.T) {
	h := newHubHarness(t, func(cfg *actors.Config) { cfg.Limits = canvas.Limits{MaxNodes: 4} })
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	h.submit(ann.AccessToken, id, textNode("a", 0, 0), textNode("b", 0, 0), edgeOp("e", "a", "b"))
	before := h.snapshot(ann.AccessToken, id).content(t)

	many := make([]op, 501)
	for i := range many {
		many[i] = textNode(fmt.Sprintf("m%d", i), 0, 0)
	}
	big := textNode("big", 0, 0)
	big["data"] = map[string]any{"text": strings.Repeat("x", 70<<10)}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
		inMsg  string // the message names the op's index
	}{
		{"unknown op field", `{"ops":[{"op":"node.add","id":"c","kind":"text","colour":"red"}]}`, 400, apierr.CodeInvalidOp, "", "colour"},
		{"ops not an array", `{"ops":{"op":"node.add"}}`, 400, apierr.CodeInvalidOp, "", ""},
		{"ops missing", `{"cbid":"x"}`, 400, apierr.CodeInvalidOp, "", ""},
		{"ops null", `{"ops":null}`, 400, apierr.CodeInvalidOp, "", ""},
		{"unknown body field", `{"ops":[],"extra":1}`, 400, apierr.CodeBadRequest, "extra", ""},
		{"cbid too long", opsBody(strings.Repeat("c", 65), textNode("c", 0, 0)), 400, apierr.CodeInvalidField, "cbid", ""},
		{"cbid not a string", `{"cbid":7,"ops":[]}`, 400, apierr.CodeInvalidField, "cbid", ""},
		{"empty batch", `{"ops":[]}`, 400, apierr.CodeEmptyBatch, "", ""},
		{"op missing", opsBody("", textNode("c", 0, 0), op{"id": "x"}), 400, apierr.CodeInvalidOp, "", "op 1:"},
		{"unknown op", opsBody("", textNode("c", 0, 0), op{"op": "node.explode", "id": "a"}), 400, apierr.CodeUnknownOp, "", "op 1:"},
		{"invalid id", opsBody("", textNode("bad id", 0, 0)), 400, apierr.CodeInvalidID, "", "op 0:"},
		{"unknown id", opsBody("", op{"op": "node.delete", "id": "nope"}), 400, apierr.CodeUnknownID, "", "op 0:"},
		{"duplicate id", opsBody("", textNode("c", 0, 0), textNode("a", 0, 0)), 400, apierr.CodeDuplicateID, "", "op 1:"},
		{"edge to a missing node", opsBody("", textNode("c", 0, 0), edgeOp("f", "c", "ghost")), 400, apierr.CodeMissingNode, "", "op 1:"},
		{"kind not allowed", opsBody("", op{"op": "node.add", "id": "c", "kind": "hologram"}), 400, apierr.CodeKindNotAllowed, "", "op 0:"},
		{"number out of range", opsBody("", textNode("c", 1e12, 0)), 400, apierr.CodeInvalidNumber, "", "op 0:"},
		{"data too large", opsBody("", big), 413, apierr.CodeDataTooLarge, "", "op 0:"},
		{"too many ops", opsBody("", many...), 413, apierr.CodeBatchTooLarge, "", ""},
		{"canvas full", opsBody("", textNode("c", 0, 0), textNode("d", 0, 0), textNode("f", 0, 0)), 409, apierr.CodeCanvasFull, "", "op 2:"},
		{"bad title", opsBody("", op{"op": "canvas.update", "title": " "}), 400, apierr.CodeInvalidOp, "", "op 0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := h.post("/api/v1/canvases/"+id+"/ops", ann.AccessToken, tt.body).wantError(t, tt.status, tt.code, tt.field)
			if !strings.Contains(e.Error.Message, tt.inMsg) {
				t.Fatalf("got message %q; want it to contain %q", e.Error.Message, tt.inMsg)
			}
			if after := h.snapshot(ann.AccessToken, id).content(t); after != before {
				t.Fatalf("after the rejection got %s; want %s", after, before)
			}
		})
	}
	// The rejections left the seq where it was.
	if got := h.submit(ann.AccessToken, id, textNode("c", 0, 0)); got != 2 {
		t.Fatalf("next batch: got seq %d; want 2", got)
	}
}

// TestSubmitOpsJournalDown removes the journal's stream under a live hub:
// the append in flight has an unknown outcome, and the canvas cannot
// reload afterwards.
func TestSubmitOpsJournalDown(t *testing.T) {
	h := newHubHarness(t, func(cfg *actors.Config) {
		cfg.AppendRetries, cfg.AppendTimeout = 1, 500*time.Millisecond
	})
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	h.submit(ann.AccessToken, id, textNode("a", 0, 0))
	if err := h.js.DeleteStream(context.Background(), "SKER_JOURNAL"); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	e := h.post("/api/v1/canvases/"+id+"/ops", ann.AccessToken, opsBody("", textNode("b", 0, 0))).
		wantError(t, http.StatusServiceUnavailable, apierr.CodeOutcomeUnknown, "")
	if !strings.Contains(e.Error.Message, "history") {
		t.Fatalf("got message %q; want it to point to the history", e.Error.Message)
	}
	r := h.post("/api/v1/canvases/"+id+"/ops", ann.AccessToken, opsBody("", textNode("b", 0, 0)))
	r.wantError(t, http.StatusServiceUnavailable, apierr.CodeUnavailable, "")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Fatalf("got Retry-After %q; want 1", got)
	}
	h.get("/api/v1/canvases/"+id, ann.AccessToken).wantError(t, http.StatusServiceUnavailable, apierr.CodeUnavailable, "")
}

type historyBody struct {
	Seq     uint64              `json:"seq"`
	Batches []journal.Committed `json:"batches"`
}

func TestHistory(t *testing.T) {
	h := newHubHarness(t, func(cfg *actors.Config) { cfg.History = 3 })
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	path := "/api/v1/canvases/" + id + "/history"

	var hist historyBody
	h.get(path, ann.AccessToken).decode(t, http.StatusOK, &hist)
	if hist.Seq != 0 || hist.Batches == nil || len(hist.Batches) != 0 {
		t.Fatalf("new canvas: got %+v; want seq 0 and an empty array", hist)
	}
	for i := 1; i <= 5; i++ {
		h.submit(ann.AccessToken, id, textNode(fmt.Sprintf("n%d", i), float64(i), 0))
	}
	tests := []struct {
		query    string
		wantSeqs []uint64
	}{
		{"?since=2", []uint64{3, 4, 5}},
		{"?since=2&limit=2", []uint64{3, 4}},
		{"?since=3&limit=1000", []uint64{4, 5}},
		{"?since=5", nil},
	}
	for _, tt := range tests {
		var got historyBody
		h.get(path+tt.query, ann.AccessToken).decode(t, http.StatusOK, &got)
		var seqs []uint64
		for _, b := range got.Batches {
			seqs = append(seqs, b.Seq)
			if b.Author != ann.User.ID || len(b.Ops) != 1 || b.Ops[0].ID != fmt.Sprintf("n%d", b.Seq) {
				t.Fatalf("%s: got batch %+v; want ann's node.add n%d", tt.query, b, b.Seq)
			}
		}
		if got.Seq != 5 || fmt.Sprint(seqs) != fmt.Sprint(tt.wantSeqs) {
			t.Fatalf("%s: got seq %d, batches %v; want 5, %v", tt.query, got.Seq, seqs, tt.wantSeqs)
		}
	}

	for _, q := range []string{"", "?since=0", "?since=1"} {
		e := h.get(path+q, ann.AccessToken).wantError(t, http.StatusGone, apierr.CodeHistoryTrimmed, "")
		if !strings.Contains(e.Error.Message, "snapshot") {
			t.Fatalf("%s: got message %q; want it to say to take a snapshot", q, e.Error.Message)
		}
	}
	bad := []struct{ query, field string }{
		{"?since=-1", "since"}, {"?since=x", "since"}, {"?since=1.5", "since"}, {"?since=6", "since"},
		{"?since=3&limit=0", "limit"}, {"?since=3&limit=1001", "limit"}, {"?since=3&limit=ten", "limit"},
	}
	for _, b := range bad {
		h.get(path+b.query, ann.AccessToken).wantError(t, http.StatusBadRequest, apierr.CodeInvalidField, b.field)
	}
}

// TestBodyCaps: API routes take at most APIBodyLimit; import up to BodyLimit.
func TestBodyCaps(t *testing.T) {
	h := newHarness(t, func(c *skerhttp.Config, _ *skerhttp.Deps) { c.BodyLimit, c.APIBodyLimit = 64<<10, 8<<10 })
	ann := h.user("ann@example.com")
	id := h.canvas(ann.AccessToken, "Plan").ID
	node := textNode("a", 0, 0)
	node["data"] = map[string]any{"text": strings.Repeat("x", 10<<10)}
	h.post("/api/v1/canvases/"+id+"/ops", ann.AccessToken, opsBody("", node)).
		wantError(t, http.StatusRequestEntityTooLarge, apierr.CodePayloadTooLarge, "")
	ex := map[string]any{"version": 1, "title": "Big", "nodes": []any{
		map[string]any{"id": "a", "kind": "text", "x": 0, "y": 0, "w": 100, "h": 50, "z": 0,
			"data": map[string]any{"text": strings.Repeat("x", 20<<10)}},
	}}
	h.post("/api/v1/canvases/import", ann.AccessToken, ex).decode(t, http.StatusCreated, nil)
}
