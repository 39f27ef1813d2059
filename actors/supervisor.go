package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// supervisor is the parent of every canvas actor on the node. It routes
// requests to the canvas's actor, spawning it on first use, and makes sure
// at most one actor per canvas accepts work: while an old actor finishes
// (passivation or retirement), requests for its canvas wait here and go to
// the new actor once the old one has stopped.
//
// Its fields are touched only inside Receive.
type supervisor struct {
	hub      *Hub
	children map[string]*actor.PID // canvas id → the actor taking work
	stopping map[string][]envelope // canvas id → requests waiting for the old actor to stop
	byPID    map[string]string     // child pid id → canvas id
	waiters  []chan struct{}       // stopAll callers
	closing  bool
}

type envelope struct {
	msg    canvasMsg
	sender *actor.PID
}

func newSupervisor(h *Hub) *supervisor {
	return &supervisor{
		hub:      h,
		children: map[string]*actor.PID{},
		stopping: map[string][]envelope{},
		byPID:    map[string]string{},
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
	case canvasMsg:
		s.route(ctx, envelope{msg: m, sender: ctx.Sender()})
	case *idle:
		s.release(ctx, m.canvas, m.pid)
	case *retire:
		s.release(ctx, m.canvas, m.pid)
	case *actor.Terminated:
		s.terminated(ctx, m.Who)
	case *stopAll:
		s.closing = true
		s.waiters = append(s.waiters, m.done)
		for id, pid := range s.children {
			s.release(ctx, id, pid)
		}
		s.maybeDone()
	case *countActive:
		ctx.Respond(len(s.byPID))
	}
}

func (s *supervisor) route(ctx actor.Context, env envelope) {
	id := env.msg.canvasID()
	if s.closing {
		ctx.Send(env.sender, ErrUnavailable)
		return
	}
	if waiting, ok := s.stopping[id]; ok {
		s.stopping[id] = append(waiting, env)
		return
	}
	pid := s.children[id]
	if pid == nil {
		var err error
		pid, err = s.spawn(ctx, id)
		if err != nil {
			s.hub.cfg.Logger.Error("spawn canvas actor", "canvas_id", id, "err", err)
			ctx.Send(env.sender, ErrUnavailable)
			return
		}
	}
	ctx.RequestWithCustomSender(pid, env.msg, env.sender)
}

func (s *supervisor) spawn(ctx actor.Context, id string) (*actor.PID, error) {
	props := actor.PropsFromProducer(func() actor.Actor { return newCanvasActor(s.hub, id) })
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
// so none is lost; later ones wait here until it has stopped.
func (s *supervisor) release(ctx actor.Context, id string, who *actor.PID) {
	pid := s.children[id]
	if pid == nil || who == nil || pid.Id != who.Id {
		return
	}
	delete(s.children, id)
	if _, ok := s.stopping[id]; !ok {
		s.stopping[id] = nil
	}
	ctx.Send(pid, &passivate{})
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
	}
	waiting := s.stopping[id]
	delete(s.stopping, id)
	for _, env := range waiting {
		s.route(ctx, env)
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
