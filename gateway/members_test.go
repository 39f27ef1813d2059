package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

// TestRemovedMemberLosesTheCanvasAtOnce: removing a member (as the REST
// layer does, then MemberChanged) takes its live connections off the
// canvas; they receive no further change.
func TestRemovedMemberLosesTheCanvasAtOnce(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	id := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	a, b := s.dial(aTok), s.dial(bTok)
	a.join(id, nil)
	b.join(id, nil)
	if err := s.store.RemoveMember(context.Background(), id, bID); err != nil {
		t.Fatal(err)
	}
	s.gw.MemberChanged(id, bID)
	if f := b.until("error"); f.Code != apierr.CodeNotFound || f.Canvas != id {
		t.Fatalf("b's error: got %+v; want not_found for the canvas", f)
	}
	if f := b.next(); f.Type != "left" || f.Canvas != id {
		t.Fatalf("b's next frame: got %+v; want left", f)
	}
	a.send(opsFrame(id, "a1", addNodeOp("n1")))
	// Once a has both its ack and the change, the room has fanned the
	// change out: b, still a member, would have it queued before its pong.
	for acked, changed := false, false; !acked || !changed; {
		switch a.next().Type {
		case "ack":
			acked = true
		case "changes":
			changed = true
		}
	}
	b.quiet("after-removal")
}

// TestDemotedEditorCannotChangeAtOnce: a role lowered to viewer applies to
// the next batch, not after the role cache expires.
func TestDemotedEditorCannotChangeAtOnce(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, _ := s.user("a")
	bID, bTok := s.user("b")
	id := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	b := s.dial(bTok)
	b.join(id, nil)
	b.send(opsFrame(id, "b1", addNodeOp("n1")))
	b.until("ack")
	if err := s.store.SetMemberRole(context.Background(), id, bID, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	s.gw.MemberChanged(id, bID)
	deadline := time.Now().Add(5 * time.Second)
	for roleOf(s.gw, bID, id) != store.RoleViewer {
		if time.Now().After(deadline) {
			t.Fatalf("b's role on its connection: got %q; want viewer", roleOf(s.gw, bID, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.send(opsFrame(id, "b2", addNodeOp("n2")))
	if f := b.until("reject"); f.Code != "forbidden" {
		t.Fatalf("demoted editor's batch: got %+v; want forbidden", f)
	}
}

// TestDeletedCanvasTakesEveryoneOff: MemberChanged with no user (a deleted
// canvas) takes every member off.
func TestDeletedCanvasTakesEveryoneOff(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	id := s.canvas(aID, map[string]store.Role{bID: store.RoleViewer})
	a, b := s.dial(aTok), s.dial(bTok)
	a.join(id, nil)
	b.join(id, nil)
	if err := s.store.DeleteCanvas(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	s.gw.MemberChanged(id, "")
	for name, c := range map[string]*client{"a": a, "b": b} {
		if f := c.until("left"); f.Canvas != id {
			t.Fatalf("%s: got %+v; want left", name, f)
		}
	}
}

// roleOf returns the role a user's connection holds for a canvas.
func roleOf(g *Gateway, userID, canvasID string) store.Role {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.sessions {
		if s.user.UserID != userID {
			continue
		}
		if m := s.membership(canvasID); m != nil {
			m.roleMu.Lock()
			defer m.roleMu.Unlock()
			return m.role
		}
	}
	return ""
}
