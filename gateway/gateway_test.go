package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

func TestTwoClientsSeeEachOthersChanges(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	id := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	a, b := s.dial(aTok), s.dial(bTok)
	if f := a.join(id, nil); f.Seq != 0 || f.Snapshot == nil || f.Role != "owner" {
		t.Fatalf("a joined: got %+v; want seq 0 with a snapshot, role owner", f)
	}
	b.join(id, nil)

	a.send(opsFrame(id, "a1", addNodeOp("n1")))
	ack := a.until("ack")
	if ack.Seq != 1 || ack.CBID != "a1" {
		t.Fatalf("ack: got %+v; want seq 1 cbid a1", ack)
	}
	got := b.until("changes")
	if fmt.Sprint(got.batchSeqs()) != "[1]" {
		t.Fatalf("b changes: got seqs %v; want [1]", got.batchSeqs())
	}
	b.send(opsFrame(id, "b1", setTextOp("n1", "from b")))
	if f := a.until("changes"); fmt.Sprint(f.batchSeqs()) == "[1]" {
		// a may see its own change first
		if f = a.until("changes"); fmt.Sprint(f.batchSeqs()) != "[2]" {
			t.Fatalf("a changes: got %v; want [2]", f.batchSeqs())
		}
	}
}

func TestRejectGoesOnlyToItsSender(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	id := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	a, b := s.dial(aTok), s.dial(bTok)
	a.join(id, nil)
	b.join(id, nil)
	a.send(opsFrame(id, "bad", setTextOp("missing", "x")))
	rej := a.next()
	if rej.Type != "reject" || rej.Code != "unknown_id" || rej.CBID != "bad" || rej.Index == nil || *rej.Index != 0 {
		t.Fatalf("reject: got %+v; want unknown_id at op 0 for cbid bad", rej)
	}
	a.send(opsFrame(id, "good", addNodeOp("n1")))
	f := b.next()
	if f.Type != "changes" || fmt.Sprint(f.batchSeqs()) != "[1]" {
		t.Fatalf("b's next frame: got %+v; want the changes of seq 1 (no reject)", f)
	}
}

func TestViewerCannotChange(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, _ := s.user("a")
	vID, vTok := s.user("v")
	id := s.canvas(aID, map[string]store.Role{vID: store.RoleViewer})
	v := s.dial(vTok)
	if f := v.join(id, nil); f.Role != "viewer" {
		t.Fatalf("role: got %s; want viewer", f.Role)
	}
	v.send(opsFrame(id, "v1", addNodeOp("n1")))
	if f := v.next(); f.Type != "reject" || f.Code != "forbidden" {
		t.Fatalf("viewer's ops: got %+v; want reject forbidden", f)
	}
}

// TestViewerComments: a viewer's batch of comment ops commits and reaches
// the others on the canvas at once, with its author; the same viewer's
// card change is refused.
func TestViewerComments(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	vID, vTok := s.user("v")
	id := s.canvas(aID, map[string]store.Role{vID: store.RoleViewer})
	a, v := s.dial(aTok), s.dial(vTok)
	a.join(id, nil)
	v.join(id, nil)
	v.send(opsFrame(id, "c1", map[string]any{"op": "comment.add", "id": "t1", "x": 10, "y": 20, "text": "Looks good", "mentions": []string{aID}}))
	if f := v.next(); f.Type != "ack" || f.Seq != 1 || f.CBID != "c1" {
		t.Fatalf("viewer's comment: got %+v; want its ack at seq 1", f)
	}
	f := a.next()
	if f.Type != "changes" || fmt.Sprint(f.batchSeqs()) != "[1]" || !strings.Contains(string(f.Raw), `"author":"`+vID+`"`) ||
		!strings.Contains(string(f.Raw), `"op":"comment.add"`) {
		t.Fatalf("the owner's next frame: got %s; want the viewer's comment at seq 1", f.Raw)
	}
	v.send(opsFrame(id, "c2", map[string]any{"op": "comment.update", "id": "t1", "resolved": true}, setTextOp("n1", "x")))
	f = v.next()
	for f.Type == "changes" { // its own batch, when it comes after the ack
		f = v.next()
	}
	if f.Type != "reject" || f.Code != "forbidden" || f.CBID != "c2" {
		t.Fatalf("viewer's comment with a card change: got %+v; want reject forbidden", f)
	}
}

func TestStrangerCannotJoin(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, _ := s.user("a")
	_, xTok := s.user("x")
	id := s.canvas(aID, nil)
	x := s.dial(xTok)
	for _, canvasID := range []string{id, "no-such-canvas", "a.b", "*", ">", ""} {
		x.send(map[string]any{"type": "join", "canvas": canvasID})
		f := x.next()
		if f.Type != "error" || (f.Code != apierr.CodeNotFound && f.Code != apierr.CodeBadFrame) {
			t.Fatalf("join %q: got %+v; want error not_found", canvasID, f)
		}
	}
}
