package gateway

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/apierr"
)

// Presence (cursor, selection, name, colour) is ephemeral: never journaled,
// published on the canvas's presence subject for every gateway, throttled
// per connection and canvas, and gone when the connection leaves.

// typePresenceSync is published when a session joins: every gateway then
// re-publishes the last presence of its members so the newcomer sees them.
const (
	typePresenceLeave = "presence.leave"
	typePresenceSync  = "presence.sync"
)

// presenceState is one membership's presence: the last frame published and
// the throttle.
type presenceState struct {
	// mu guards the fields below. It is held across the publish of a
	// frame (which only buffers it: not a request), so that frames go out
	// in the order they become last; never across a wait for a reply.
	mu      sync.Mutex
	last    []byte      // last presence frame published
	pending []byte      // newer frame waiting for the interval to pass
	sentAt  time.Time   // when last was published
	timer   *time.Timer // publishes pending when the interval ends
}

// presence publishes a client's presence, at most once per interval per
// canvas; a frame inside the interval replaces any waiting one and goes out
// when the interval ends, so the last position always arrives.
func (s *session) presence(f *inFrame) {
	m := s.membership(f.Canvas)
	if m == nil {
		s.sendError(f.Canvas, apierr.CodeNotJoined, "join the canvas before sending presence")
		return
	}
	frame := mustJSON(presenceFrame{
		Type: typePresence, Canvas: f.Canvas, Session: s.id, User: s.user.UserID,
		Name: f.Name, Color: f.Color, Cursor: f.Cursor, Selection: f.Selection,
	})
	p := m.presenceState()
	interval := time.Duration(s.g.cfg.Limits.PresenceInterval) * time.Millisecond
	p.mu.Lock()
	defer p.mu.Unlock()
	if wait := interval - time.Since(p.sentAt); wait > 0 {
		p.pending = frame
		if p.timer == nil {
			p.timer = time.AfterFunc(wait, func() { m.flushPresence(s) })
		}
		return
	}
	p.last, p.sentAt = frame, time.Now()
	m.room.publish(frame)
}

func (m *membership) presenceState() *presenceState {
	m.room.mu.Lock()
	defer m.room.mu.Unlock()
	if m.presence == nil {
		m.presence = &presenceState{}
	}
	return m.presence
}

func (m *membership) flushPresence(s *session) {
	p := m.presenceState()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if p.pending == nil || s.membership(m.room.id) != m {
		return
	}
	p.last, p.pending, p.sentAt = p.pending, nil, time.Now()
	m.room.publish(p.last)
}

func (r *room) publish(frame []byte) {
	if err := r.g.cfg.Conn.Publish(r.g.cfg.Names.Presence(r.id), frame); err != nil {
		r.g.log.Debug("presence publish failed", "canvas_id", r.id, "err", err)
	}
}

// publishLeave tells every gateway that a session left the canvas.
func (r *room) publishLeave(s *session, m *membership) {
	p := m.presenceState()
	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.pending = nil
	p.mu.Unlock()
	r.publish(mustJSON(presenceFrame{Type: typePresenceLeave, Canvas: r.id, Session: s.id, User: s.user.UserID}))
}

// requestPresence asks every gateway to re-publish its members' presence
// for a session that just joined.
func (r *room) requestPresence(s *session) {
	r.publish(mustJSON(presenceFrame{Type: typePresenceSync, Canvas: r.id, Session: s.id}))
}

// onPresence fans presence out to the room's members, except to the
// session it came from; presence is dropped for a member whose queue is
// filling up, never queued at the cost of changes.
func (r *room) onPresence(msg *nats.Msg) {
	var head struct {
		Type    string `json:"type"`
		Session string `json:"session"`
	}
	if err := json.Unmarshal(msg.Data, &head); err != nil {
		return
	}
	if head.Type == typePresenceSync {
		for _, last := range r.lastPresence(head.Session) {
			r.publish(last)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.members {
		if s.id != head.Session {
			s.offer(outMsg{data: msg.Data})
		}
	}
}

// lastPresence returns the last presence frame of each member but the
// session asking, to publish again once the room's lock is let go.
func (r *room) lastPresence(asking string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for s, m := range r.members {
		if s.id != asking && m.presence != nil {
			if last := m.presence.lastFrame(); last != nil {
				out = append(out, last)
			}
		}
	}
	return out
}

func (p *presenceState) lastFrame() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
