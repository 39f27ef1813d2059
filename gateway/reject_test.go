package gateway

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// TestRejectsReachOnlyTheirSender is guarantee 4 over the wire: every
// validation code the canvas package produces comes back to the sender as a
// reject with that code, its cbid and the offending op's index; the other
// clients on the canvas receive nothing, and the canvas is unchanged.
func TestRejectsReachOnlyTheirSender(t *testing.T) {
	const maxNodes = 3
	s := newStack(t, nil, func(c *actors.Config) { c.Limits = canvas.Limits{MaxNodes: maxNodes} })
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	vID, vTok := s.user("v")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor, vID: store.RoleViewer})
	head := s.commit(cid, aID, "setup", addNodeOp("n1"), addNodeOp("n2"),
		map[string]any{"op": "edge.add", "id": "e1", "source": "n1", "target": "n2"})
	a, b, v := s.dial(aTok), s.dial(bTok), s.dial(vTok)
	a.join(cid, nil)
	b.join(cid, nil)
	v.join(cid, nil)

	big := strings.Repeat("x", 70<<10)
	nearCap := strings.Repeat("y", 58_000) // under the data cap; 16 of them are over the record cap
	update := func(id string, set map[string]any) map[string]any {
		return map[string]any{"op": "node.update", "id": id, "set": set}
	}
	many := func(n int, op map[string]any) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = op
		}
		return out
	}
	idx := func(i int) *int { return &i }
	cases := []struct {
		code   string
		sender *client
		ops    []map[string]any
		index  *int // nil: the batch as a whole
	}{
		{apierr.CodeInvalidOp, a, []map[string]any{setTextOp("n1", "applied only with the batch"), {"op": "node.update", "id": "n2"}}, idx(1)},
		{apierr.CodeInvalidOp, a, []map[string]any{{"op": "node.delete", "id": "n1", "kind": "text"}}, idx(0)},
		{apierr.CodeUnknownOp, a, []map[string]any{{"op": "node.explode", "id": "n1"}}, idx(0)},
		{apierr.CodeInvalidID, a, []map[string]any{addNodeOp("bad id")}, idx(0)},
		{apierr.CodeUnknownID, a, []map[string]any{{"op": "node.delete", "id": "ghost"}}, idx(0)},
		{apierr.CodeUnknownID, a, []map[string]any{{"op": "edge.delete", "id": "n1"}}, idx(0)},
		{apierr.CodeDuplicateID, a, []map[string]any{{"op": "node.delete", "id": "n2"}, addNodeOp("d1"), addNodeOp("d1")}, idx(2)},
		{apierr.CodeDuplicateID, a, []map[string]any{{"op": "edge.add", "id": "e1", "source": "n2", "target": "n1"}}, idx(0)},
		{apierr.CodeMissingNode, a, []map[string]any{{"op": "edge.add", "id": "e2", "source": "n1", "target": "ghost"}}, idx(0)},
		{apierr.CodeKindNotAllowed, a, []map[string]any{{"op": "node.add", "id": "k1", "kind": "video"}}, idx(0)},
		{apierr.CodeKindNotAllowed, a, []map[string]any{{"op": "edge.add", "id": "e2", "kind": "curvy", "source": "n1", "target": "n2"}}, idx(0)},
		{apierr.CodeInvalidNumber, a, []map[string]any{{"op": "node.add", "id": "x1", "kind": "text", "x": 1e8}}, idx(0)},
		{apierr.CodeInvalidNumber, a, []map[string]any{setTextOp("n1", "ok"), update("n2", map[string]any{"w": 0})}, idx(1)},
		{apierr.CodeInvalidNumber, a, []map[string]any{update("n1", map[string]any{"z": 1.5})}, idx(0)},
		{apierr.CodeDataTooLarge, a, []map[string]any{{"op": "node.add", "id": "big", "kind": "text", "data": map[string]any{"text": big}}}, idx(0)},
		{apierr.CodeDataTooLarge, a, []map[string]any{update("n1", map[string]any{"data.text": big})}, idx(0)},
		{apierr.CodeBatchTooLarge, a, many(canvas.DefaultLimits.MaxBatchOps+1, setTextOp("n1", "many")), nil},
		{apierr.CodeBatchTooLarge, a, many(16, update("n1", map[string]any{"data.text": nearCap})), nil},
		{apierr.CodeCanvasFull, a, []map[string]any{addNodeOp("f1"), addNodeOp("f2")}, idx(1)},
		{apierr.CodeEmptyBatch, a, []map[string]any{}, nil},
		{apierr.CodeEmptyBatch, a, nil, nil}, // "ops":null
		{apierr.CodeForbidden, v, []map[string]any{setTextOp("n1", "viewer")}, nil},
	}
	before := s.snapshotJSON(cid)
	for i, tc := range cases {
		cbid := fmt.Sprintf("%s-%d", tc.code, i)
		tc.sender.send(opsFrame(cid, cbid, tc.ops...))
		f := tc.sender.next()
		if f.Type != "reject" || f.Code != tc.code || f.CBID != cbid || f.Canvas != cid || f.Message == "" {
			t.Fatalf("case %d: got %.300s; want reject %s for cbid %s with a message", i, f.Raw, tc.code, cbid)
		}
		if (f.Index == nil) != (tc.index == nil) || f.Index != nil && *f.Index != *tc.index {
			t.Fatalf("case %d (%s): got index %v; want %v", i, tc.code, deref(f.Index), deref(tc.index))
		}
		if after := s.snapshotJSON(cid); !bytes.Equal(after, before) {
			t.Fatalf("case %d (%s) changed the canvas:\n got %s\nwant %s", i, tc.code, after, before)
		}
	}
	// Nothing reached the others: their next frame is the next change.
	next := s.commit(cid, aID, "good", setTextOp("n1", "good"))
	if next != head+1 {
		t.Fatalf("next seq: got %d; want %d (no rejected batch took a seq)", next, head+1)
	}
	for name, c := range map[string]*client{"a": a, "b": b, "v": v} {
		f := c.next()
		if f.Type != "changes" || fmt.Sprint(f.batchSeqs()) != fmt.Sprint([]uint64{next}) {
			t.Errorf("%s's next frame: got %.200s; want the changes of seq %d", name, f.Raw, next)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestCanvasErrorsAsREST: an error of the canvas contract reaches a
// WebSocket client with the code and message the REST API gives for it
// (canvases.APIError), for a batch and for a join. The journal's stream is
// removed under the live canvas: the append in flight has an unknown
// outcome, and the canvas cannot load again.
func TestCanvasErrorsAsREST(t *testing.T) {
	s := newStack(t, nil, func(c *actors.Config) {
		c.AppendRetries, c.AppendTimeout = 1, 500*time.Millisecond
	})
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	s.commit(cid, aID, "setup", addNodeOp("n1"))
	a := s.dial(aTok)
	a.join(cid, nil)
	js, err := jetstream.New(s.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(context.Background(), natsname.Default().JournalStream()); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	rest := func(err error) *apierr.Error {
		e, _ := canvases.APIError(err)
		return e
	}

	a.send(opsFrame(cid, "lost", addNodeOp("n2")))
	f := a.until("reject")
	if want := rest(canvases.ErrOutcomeUnknown); f.Code != want.Code || f.Message != want.Message || f.CBID != "lost" {
		t.Errorf("batch in flight: got %s %q %q; want %s %q lost", f.Code, f.Message, f.CBID, want.Code, want.Message)
	}
	a.send(opsFrame(cid, "after", addNodeOp("n3")))
	f = a.until("reject")
	if want := rest(canvases.ErrUnavailable); f.Code != want.Code || f.Message != want.Message || f.CBID != "after" {
		t.Errorf("next batch: got %s %q %q; want %s %q after", f.Code, f.Message, f.CBID, want.Code, want.Message)
	}

	b := s.dial(aTok)
	b.send(map[string]any{"type": "join", "canvas": cid})
	f = b.until("error")
	if want := rest(canvases.ErrUnavailable); f.Code != want.Code || f.Message != "could not join: "+want.Message {
		t.Errorf("join: got %s %q; want %s %q", f.Code, f.Message, want.Code, "could not join: "+want.Message)
	}
}
