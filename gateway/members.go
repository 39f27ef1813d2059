package gateway

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

// Membership changes reach live connections at once: the REST layer calls
// MemberChanged, which publishes on the canvas's members subject for every
// gateway; each looks up the role again for its sessions of that user on
// that canvas, updates it, or, when the membership is gone (or the canvas
// deleted), takes them off the canvas with an error frame and a left frame.

// invalidator is a Roles that keeps roles in memory (rolecache.Cache):
// Invalidate forgets userID's role on canvasID, or every role on it.
type invalidator interface {
	Invalidate(canvasID, userID string)
}

type memberEvent struct {
	User string `json:"user,omitempty"` // empty: every member (canvas deleted)
}

// MemberChanged tells every gateway that userID's membership of canvasID
// changed (an empty userID: the canvas was deleted).
func (g *Gateway) MemberChanged(canvasID, userID string) {
	if !canvasIDPattern.MatchString(canvasID) {
		return
	}
	data, _ := json.Marshal(memberEvent{User: userID})
	if err := g.cfg.Conn.Publish(g.cfg.Names.Members(canvasID), data); err != nil {
		g.log.Warn("publish membership change", "canvas_id", canvasID, "err", err)
	}
}

// onMembers handles a membership change on another goroutine, since it
// reads the store.
func (r *room) onMembers(msg *nats.Msg) {
	var ev memberEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		return
	}
	if c, ok := r.g.cfg.Roles.(invalidator); ok {
		// Before the re-check below reads the role again: the cache's
		// own subscription to this event may come after this one.
		c.Invalidate(r.id, ev.User)
	}
	r.mu.Lock()
	var affected []*session
	for s := range r.members {
		if ev.User == "" || s.user.UserID == ev.User {
			affected = append(affected, s)
		}
	}
	r.mu.Unlock()
	if len(affected) > 0 {
		go r.recheck(affected, ev.User == "")
	}
}

func (r *room) recheck(sessions []*session, deleted bool) {
	for _, s := range sessions {
		var role store.Role
		err := store.ErrNotFound
		if !deleted {
			ctx, cancel := context.WithTimeout(context.Background(), r.g.cfg.CheckTimeout)
			role, err = r.g.cfg.Roles.Role(ctx, r.id, s.user.UserID)
			cancel()
		}
		m := s.membership(r.id)
		if m == nil {
			continue
		}
		switch {
		case err == nil:
			s.setRole(m, role)
		case errors.Is(err, store.ErrNotFound):
			s.sendError(r.id, apierr.CodeNotFound, "you are no longer a member of this canvas")
			s.leave(r.id, true)
		default:
			// The store did not answer: the cached role expires after
			// RoleTTL and is looked up again for the next batch.
			r.g.log.Warn("membership re-check failed", "canvas_id", r.id, "err", err)
		}
	}
}
