package gateway

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

var canvasIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *session) membership(canvasID string) *membership {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joined[canvasID]
}

// join joins a canvas: role check, room subscription, then catch-up (a
// snapshot, or exactly the batches after since) before any live change.
func (s *session) join(f *inFrame) {
	id := f.Canvas
	if !canvasIDPattern.MatchString(id) {
		s.sendError(id, apierr.CodeNotFound, "canvas not found")
		return
	}
	if s.membership(id) != nil {
		s.leave(id, false) // a second join resyncs from its since
	}
	s.mu.Lock()
	count := len(s.joined)
	s.mu.Unlock()
	if count >= s.g.cfg.Limits.MaxCanvases {
		s.sendError(id, apierr.CodeTooManyCanvases, "at most "+strconv.Itoa(s.g.cfg.Limits.MaxCanvases)+" canvases per connection")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.JoinTimeout)
	defer cancel()
	role, err := s.g.cfg.Roles.Role(ctx, id, s.user.UserID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("join: role lookup", "canvas_id", id, "err", err)
		}
		s.sendError(id, apierr.CodeNotFound, "canvas not found")
		return
	}
	r, err := s.g.room(id)
	if err != nil {
		s.log.Error("join: subscribe", "canvas_id", id, "err", err)
		s.sendError(id, apierr.CodeUnavailable, "canvas unavailable; try again")
		return
	}
	m := &membership{room: r, role: role, roleAt: time.Now(), sessionID: s.id}
	if err := r.join(ctx, s, m, f.Since); err != nil {
		s.g.release(r)
		e := s.canvasError("join", id, err)
		s.sendError(id, e.Code, "could not join: "+e.Message)
		return
	}
	s.mu.Lock()
	s.joined[id] = m
	s.mu.Unlock()
	r.requestPresence(s)
}

// leave leaves a canvas; with notify the client gets a "left" frame.
func (s *session) leave(canvasID string, notify bool) {
	s.mu.Lock()
	m := s.joined[canvasID]
	delete(s.joined, canvasID)
	s.mu.Unlock()
	if m == nil {
		if notify {
			s.sendError(canvasID, apierr.CodeNotJoined, "not joined to this canvas")
		}
		return
	}
	m.room.leave(s, m)
	s.g.release(m.room)
	if notify {
		s.enqueue(outMsg{data: mustJSON(leftFrame{Type: "left", Canvas: canvasID})})
	}
}

func (s *session) leaveAll() {
	s.mu.Lock()
	ids := slices.Collect(maps.Keys(s.joined))
	s.mu.Unlock()
	for _, id := range ids {
		s.leave(id, false)
	}
}
