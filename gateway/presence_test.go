package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

func presenceMsg(canvasID string, x, y float64) map[string]any {
	return map[string]any{"type": "presence", "canvas": canvasID, "cursor": map[string]any{"x": x, "y": y}}
}

// nextPresence reads frames until a presence frame (of either kind).
func (c *client) nextPresence() frame {
	c.t.Helper()
	for {
		f := c.next()
		if f.Type == "presence" || f.Type == "presence.leave" {
			return f
		}
		if f.Type != "changes" && f.Type != "ack" {
			c.t.Fatalf("waiting for presence: got %s", f.Raw)
		}
	}
}

func TestPresence(t *testing.T) {
	const interval = 50
	s := newStack(t, func(c *Config) { c.Limits.PresenceInterval = interval }, nil)
	aID, aTok := s.user("a")
	bID, bTok := s.user("b")
	cID, cTok := s.user("c")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor, cID: store.RoleViewer})
	a, aHello := s.hello(aTok)
	b, bHello := s.hello(bTok)
	a.join(cid, nil)
	b.join(cid, nil)

	a.send(map[string]any{"type": "presence", "canvas": cid, "cursor": map[string]any{"x": 1.5, "y": -2},
		"selection": []string{"n1", "n2"}, "name": "Ann", "color": "#ff0000"})
	f := b.nextPresence()
	if f.Type != "presence" || f.Canvas != cid || f.Session != aHello.Session || f.User != aID ||
		f.Cursor == nil || *f.Cursor != (cursor{1.5, -2}) || fmt.Sprint(f.Selection) != "[n1 n2]" || f.Name != "Ann" || f.Color != "#ff0000" {
		t.Fatalf("b got %s; want a's presence (session %s, user %s, cursor 1.5,-2, selection n1 n2, Ann, #ff0000)", f.Raw, aHello.Session, aID)
	}
	// b's presence, sent after a's, is the first presence a receives: a's
	// own never comes back to it.
	b.send(presenceMsg(cid, 7, 8))
	if f := a.nextPresence(); f.Session != bHello.Session || f.User != bID || *f.Cursor != (cursor{7, 8}) {
		t.Fatalf("a got %s; want b's presence at 7,8", f.Raw)
	}

	t.Run("throttled, last position arrives", func(t *testing.T) {
		const burst = 200
		began := time.Now()
		for i := 1; i <= burst; i++ {
			a.send(presenceMsg(cid, float64(i), 0))
		}
		sent := time.Since(began)
		received := 0
		for {
			f := b.nextPresence()
			if f.Session != aHello.Session {
				t.Fatalf("got %s; want only a's presence", f.Raw)
			}
			received++
			if f.Cursor.X == burst {
				break
			}
		}
		// One frame per interval while the burst lasts, plus the first
		// and the trailing one.
		if most := int(sent/(interval*time.Millisecond)) + 3; received > most || received > burst/4 {
			t.Fatalf("b received %d of %d presence frames sent in %v; want at most %d", received, burst, sent, min(most, burst/4))
		}
		b.quiet("after-burst")
	})

	t.Run("late joiner gets the last presence of each peer", func(t *testing.T) {
		c, _ := s.hello(cTok)
		c.join(cid, nil)
		got := map[string]float64{}
		for len(got) < 2 {
			f := c.nextPresence()
			got[f.Session] = f.Cursor.X
		}
		if got[aHello.Session] != 200 || got[bHello.Session] != 7 {
			t.Fatalf("c got cursors %v; want a's at 200 and b's at 7", got)
		}
	})

	t.Run("leave on disconnect", func(t *testing.T) {
		if err := a.conn.Close(); err != nil {
			t.Fatal(err)
		}
		for {
			f := b.nextPresence()
			if f.Type == "presence.leave" {
				if f.Session != aHello.Session || f.User != aID || f.Canvas != cid {
					t.Fatalf("b got %s; want presence.leave for a's session %s", f.Raw, aHello.Session)
				}
				break
			}
		}
	})
}

func TestPresenceNeedsJoin(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	a := s.dial(aTok)
	a.send(presenceMsg(cid, 1, 1))
	if f := a.next(); f.Type != "error" || f.Code != apierr.CodeNotJoined || f.Canvas != cid {
		t.Fatalf("presence before join: got %s; want error not_joined", f.Raw)
	}
}
