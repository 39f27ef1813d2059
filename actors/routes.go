package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// routes lets the Hub send a request straight to the actor of a live
// canvas instead of through the supervisor, whose one mailbox every request
// of the node would otherwise pass. The supervisor's guarantees hold:
//
//   - Only the supervisor sets a canvas's direct pid, to the child it routes
//     to, and it clears it before it tells that child to passivate. The Hub
//     sends under the lock, so every request sent straight to a child is in
//     its mailbox ahead of passivate, as every request the supervisor routed
//     to it is.
//   - A canvas is sent to directly only when no request the Hub sent for it
//     through the supervisor is still on its way there (pending is zero), so
//     a caller's requests reach the canvas in the order it sent them.
//   - A request sent to a child that stopped on its own (repeated failures)
//     before the supervisor cleared its pid becomes a dead letter, which the
//     Hub answers canvases.ErrUnavailable, as a request the supervisor
//     routed there would be.
type routes struct {
	mu   sync.Mutex
	live map[string]*route // canvas id → route; absent when neither field is set
}

type route struct {
	pid     *actor.PID // the child taking work directly, or nil
	pending int        // requests sent through the supervisor and not yet routed by it
}

func newRoutes() *routes { return &routes{live: map[string]*route{}} }

// send sends m to the canvas's actor directly when it may, and otherwise
// to the supervisor.
func (r *routes) send(root *actor.RootContext, super *actor.PID, m canvasMsg) {
	id := m.canvasID()
	r.mu.Lock()
	rt := r.live[id]
	if rt != nil && rt.pid != nil && rt.pending == 0 {
		root.Send(rt.pid, m)
		r.mu.Unlock()
		return
	}
	if rt == nil {
		rt = &route{}
		r.live[id] = rt
	}
	rt.pending++
	m.req().viaSupervisor = true
	r.mu.Unlock()
	root.Send(super, m)
}

// direct reports whether requests for canvas id go straight to its actor.
func (r *routes) direct(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt := r.live[id]
	return rt != nil && rt.pid != nil
}

// routed records that the supervisor has passed m on to the actor pid
// (which from then on takes requests directly) or, with pid nil, answered
// it.
func (r *routes) routed(m canvasMsg, pid *actor.PID) {
	counted := m.req().viaSupervisor
	if !counted && pid == nil {
		return
	}
	id := m.canvasID()
	r.mu.Lock()
	defer r.mu.Unlock()
	rt := r.live[id]
	if rt == nil {
		rt = &route{}
		r.live[id] = rt
	}
	if counted {
		rt.pending--
	}
	if pid != nil {
		rt.pid = pid
	}
	r.tidy(id, rt)
}

// stop makes requests for the canvas go through the supervisor again, if
// pid is the actor taking them directly.
func (r *routes) stop(id string, pid *actor.PID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt := r.live[id]
	if rt == nil || rt.pid == nil || rt.pid.Id != pid.Id {
		return
	}
	rt.pid = nil
	r.tidy(id, rt)
}

// forgetPIDs sends every request through the supervisor again.
func (r *routes) forgetPIDs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, rt := range r.live {
		rt.pid = nil
		r.tidy(id, rt)
	}
}

func (r *routes) tidy(id string, rt *route) {
	if rt.pid == nil && rt.pending == 0 {
		delete(r.live, id)
	}
}
