package actors

import (
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/skerhq/sker/canvases"
)

// supervisor is the parent of every canvas actor on the node. It routes
// requests to the canvas's actor, spawning it on first use (once the actor
// is live, the Hub sends to it directly; see routes), and makes sure
// at most one actor per canvas accepts work: while an old actor finishes
// (passivation or retirement), requests for its canvas wait here and go to
// the new actor once the old one has stopped. While a canvas is handed
// off to another node (Hub.Handoff), its requests are answered
// *canvases.NotOwnerError instead, until its actor has stopped.
//
// Its fields are touched only inside Receive.
type supervisor struct {
	hub      *Hub
	children map[string]*actor.PID  // canvas id → the actor taking work
	stopping map[string][]canvasMsg // canvas id → requests waiting for the old actor to stop
	byPID    map[string]string      // child pid id → canvas id
	handoffs map[string][]reply     // canvas id → Handoff callers waiting for its actor to stop
	// handedOff: canvas id → until when a canvas handed off is not
	// activated here again (Config.HandoffGrace).
	handedOff map[string]time.Time
	waiters   []chan struct{} // stopAll callers
	closing   bool
}

func newSupervisor(h *Hub) *supervisor {
	return &supervisor{
		hub:       h,
		children:  map[string]*actor.PID{},
		stopping:  map[string][]canvasMsg{},
		byPID:     map[string]string{},
		handoffs:  map[string][]reply{},
		handedOff: map[string]time.Time{},
	}
}

// canvasStrategy restarts a failing canvas actor (which reloads from
// checkpoint + journal) up to 3 times in 10 seconds, then stops it.
func canvasStrategy(log *slog.Logger) actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(3, 10*time.Second, func(reason any) actor.Directive {
		log.Error("canvas actor failed; restarting from checkpoint and journal", "reason", reason)
		return actor.RestartDirective
	})
}

// Receive handles routing and the children's lifecycle.
func (s *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// A restarted supervisor has no children: none may take requests
		// directly.
		s.hub.routes.forgetPIDs()
	case canvasMsg:
		s.route(ctx, m)
	case *idle:
		s.release(ctx, m.canvas, m.pid, nil)
	case *retire:
		s.release(ctx, m.canvas, m.pid, nil)
	case *handoff:
		s.handoff(ctx, m)
	case *listOwned:
		ids := make([]string, 0, len(s.children))
		for id := range s.children {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		m.reply.send(ids)
	case *getEpoch:
		if pid := s.children[m.canvas]; pid != nil {
			ctx.Send(pid, m)
		} else {
			m.reply.send(&epochResult{})
		}
	case *actor.Terminated:
		s.terminated(ctx, m.Who)
	case *stopAll:
		s.closing = true
		s.waiters = append(s.waiters, m.done)
		for id, pid := range s.children {
			s.release(ctx, id, pid, nil)
		}
		s.maybeDone()
	case *countActive:
		m.reply.send(len(s.byPID))
	}
}

func (s *supervisor) route(ctx actor.Context, m canvasMsg) {
	id := m.canvasID()
	if s.closing {
		m.req().answer(canvases.ErrUnavailable)
		s.hub.routes.routed(m, nil)
		return
	}
	if _, ok := s.handoffs[id]; ok || s.inGrace(id) {
		m.req().answer(&canvases.NotOwnerError{CanvasID: id})
		s.hub.routes.routed(m, nil)
		return
	}
	if waiting, ok := s.stopping[id]; ok {
		s.stopping[id] = append(waiting, m)
		return
	}
	pid := s.children[id]
	if pid == nil {
		var err error
		pid, err = s.spawn(ctx, id)
		if err != nil {
			s.hub.cfg.Logger.Error("spawn canvas actor", "canvas_id", id, "err", err)
			m.req().answer(canvases.ErrUnavailable)
			s.hub.routes.routed(m, nil)
			return
		}
	}
	ctx.Send(pid, m)
	s.hub.routes.routed(m, pid)
}

func (s *supervisor) spawn(ctx actor.Context, id string) (*actor.PID, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return newCanvasActor(s.hub, id) },
		actor.WithDispatcher(s.hub.workers))
	pid, err := ctx.SpawnNamed(props, "canvas-"+id)
	if err != nil {
		return nil, err
	}
	s.children[id] = pid
	s.byPID[pid.Id] = id
	s.hub.metrics.active.Set(float64(len(s.byPID)))
	return pid, nil
}

// release stops routing to the child of canvas id and tells it to stop. Every
// request routed to it before is already in its mailbox, ahead of passivate,
// so none is lost; later ones wait here until it has stopped. answer is
// passivate's (nil: canvases.ErrUnavailable).
func (s *supervisor) release(ctx actor.Context, id string, who *actor.PID, answer error) {
	pid := s.children[id]
	if pid == nil || who == nil || pid.Id != who.Id {
		return
	}
	delete(s.children, id)
	s.hub.routes.stop(id, pid)
	if _, ok := s.stopping[id]; !ok {
		s.stopping[id] = nil
	}
	ctx.Send(pid, &passivate{answer: answer})
}

// handoff passivates canvas m.canvas so that another node can own it, and
// answers m once its actor has stopped, at once when it has none. Until
// then every request for the canvas, those already waiting here for an
// older actor to stop included, is answered *canvases.NotOwnerError, for
// the routing layer to send it to the new owner, and so is every one in
// the HandoffGrace after (see graceFor); then a request activates the
// canvas here again.
func (s *supervisor) handoff(ctx actor.Context, m *handoff) {
	id := m.canvas
	pid := s.children[id]
	waiting, stopping := s.stopping[id]
	if pid == nil && !stopping {
		m.reply.send(nil)
		return
	}
	s.handoffs[id] = append(s.handoffs[id], m.reply)
	notOwner := &canvases.NotOwnerError{CanvasID: id}
	for _, w := range waiting {
		w.req().answer(notOwner)
		s.hub.routes.routed(w, nil)
	}
	s.stopping[id] = nil
	if pid != nil {
		s.release(ctx, id, pid, notOwner)
	}
}

// graceFor keeps canvas id from being activated here for HandoffGrace:
// the node it was handed to claims it meanwhile, and a request still sent
// here (by a router that has not learnt of the move) is told to look
// again instead of taking the canvas back.
func (s *supervisor) graceFor(id string) {
	now := time.Now()
	if len(s.handedOff) >= 1024 {
		for k, until := range s.handedOff {
			if !now.Before(until) {
				delete(s.handedOff, k)
			}
		}
	}
	s.handedOff[id] = now.Add(s.hub.cfg.HandoffGrace)
}

// inGrace reports whether canvas id was handed off less than HandoffGrace
// ago.
func (s *supervisor) inGrace(id string) bool {
	until, ok := s.handedOff[id]
	if !ok {
		return false
	}
	if time.Now().Before(until) {
		return true
	}
	delete(s.handedOff, id)
	return false
}

func (s *supervisor) terminated(ctx actor.Context, who *actor.PID) {
	id, ok := s.byPID[who.Id]
	if !ok {
		return
	}
	delete(s.byPID, who.Id)
	s.hub.metrics.active.Set(float64(len(s.byPID)))
	if pid := s.children[id]; pid != nil && pid.Id == who.Id {
		// Stopped without asking (repeated failures): route no more to it.
		delete(s.children, id)
		s.hub.routes.stop(id, who)
	}
	if rs, ok := s.handoffs[id]; ok {
		s.graceFor(id)
		for _, r := range rs {
			r.send(nil)
		}
	}
	delete(s.handoffs, id)
	waiting := s.stopping[id]
	delete(s.stopping, id)
	for _, m := range waiting {
		s.route(ctx, m)
	}
	s.maybeDone()
}

func (s *supervisor) maybeDone() {
	if !s.closing || len(s.byPID) > 0 {
		return
	}
	for _, w := range s.waiters {
		close(w)
	}
	s.waiters = nil
}
