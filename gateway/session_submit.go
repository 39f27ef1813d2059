package gateway

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// submit forwards a batch to the canvas actor in the order the client sent
// it and answers with ack or reject when the outcome is known.
func (s *session) submit(f *inFrame) {
	m := s.membership(f.Canvas)
	if m == nil {
		s.reject(f, apierr.CodeNotJoined, "join the canvas before sending ops", nil)
		return
	}
	if !s.ops.AllowN(time.Now(), max(len(f.Ops), 1)) {
		s.reject(f, apierr.CodeRateLimited, "over "+strconv.Itoa(s.g.cfg.Limits.OpsPerSecond)+" ops per second", nil)
		return
	}
	if !s.mayEdit(f, m) {
		return
	}
	// Back-pressure: with MaxInFlight batches waiting, stop reading the
	// socket until one is answered, rather than queueing without bound.
	select {
	case s.inFlight <- struct{}{}:
	case <-s.done:
		return
	}
	wait := s.g.cfg.Canvases.SubmitAsync(f.Canvas, s.user.UserID, f.CBID, f.Ops)
	go func() {
		defer func() { <-s.inFlight }()
		s.answer(f, m, wait)
	}()
}

// mayEdit checks the member's current role, rejecting the batch when it
// may not change the canvas (a viewer may send comment ops only) or the
// role cannot be looked up.
func (s *session) mayEdit(f *inFrame, m *membership) bool {
	role, err := s.currentRole(f.Canvas, m)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.reject(f, apierr.CodeNotFound, "canvas not found", nil)
	case err != nil:
		s.reject(f, apierr.CodeUnavailable, "could not check your role; nothing was committed", nil)
	case !role.CanEdit() && !canvas.CommentOnly(f.Ops):
		s.reject(f, apierr.CodeForbidden, "viewers cannot change this canvas; they may comment", nil)
	default:
		return true
	}
	return false
}

// answer waits for the outcome of a batch and tells the client: an ack,
// held to go out with the batch itself (holdAck), or a reject.
func (s *session) answer(f *inFrame, m *membership, wait func(context.Context) (uint64, error)) {
	seq, err := wait(context.Background())
	if err == nil {
		ack := outMsg{data: ackJSON(f.Canvas, f.CBID, seq)}
		if !m.room.holdAck(s, m, seq, ack) {
			s.enqueue(ack)
		}
		return
	}
	var opErr *canvas.OpError
	if errors.As(err, &opErr) {
		s.rejectOp(f, opErr)
		return
	}
	e := s.canvasError("submit", f.Canvas, err)
	s.reject(f, e.Code, e.Message, nil)
}

// canvasError is what the client is told of an error of Canvases: what
// the REST API would tell it (canvases.APIError). An error that carries
// nothing for a client is logged and told as unavailable: nothing of the
// request was committed.
func (s *session) canvasError(doing, canvasID string, err error) *apierr.Error {
	if e, ok := canvases.APIError(err); ok {
		return e
	}
	s.log.Warn(doing, "canvas_id", canvasID, "err", err)
	return canvases.ErrUnavailable.API()
}

// currentRole returns the role, looked up again when older than RoleTTL.
// A lookup that fails for another reason than a missing membership keeps
// nothing and is reported as such.
func (s *session) currentRole(canvasID string, m *membership) (store.Role, error) {
	m.roleMu.Lock()
	role, at := m.role, m.roleAt
	m.roleMu.Unlock()
	if time.Since(at) < s.g.cfg.RoleTTL {
		return role, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.CheckTimeout)
	defer cancel()
	role, err := s.g.cfg.Roles.Role(ctx, canvasID, s.user.UserID)
	if err != nil {
		return "", err
	}
	s.setRole(m, role)
	return role, nil
}

// setRole records a role just looked up.
func (s *session) setRole(m *membership, role store.Role) {
	m.roleMu.Lock()
	m.role, m.roleAt = role, time.Now()
	m.roleMu.Unlock()
}

func (s *session) reject(f *inFrame, code, msg string, index *int) {
	s.enqueue(outMsg{data: mustJSON(rejectFrame{Type: "reject", Canvas: f.Canvas, CBID: f.CBID, Code: code, Message: msg, Index: index})})
}

// rejectOp rejects a batch for one of its ops: the op's index, when it has
// one, goes in a field of its own.
func (s *session) rejectOp(f *inFrame, e *canvas.OpError) {
	var idx *int
	if e.Index >= 0 {
		idx = &e.Index
	}
	s.reject(f, e.Code, e.Message, idx)
}
