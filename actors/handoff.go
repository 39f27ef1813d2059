package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The Hub's side of a cluster: which canvases this node's actors own, and
// giving one up to another node.

// Owns reports whether an actor on this node takes canvasID's requests
// directly: the canvas is active here (loading or live, so claimed or
// being claimed) and not passivating, retiring or being handed off. It
// reads the Hub's routes, without asking any actor, so it is cheap enough
// for every routed request. A canvas whose first request is still on its
// way to the supervisor is not owned yet.
func (h *Hub) Owns(canvasID string) bool { return h.routes.direct(canvasID) }

// Owned returns, sorted, the ids of the canvases whose actors on this node
// take requests (as the supervisor sees them: loading ones included,
// stopping ones not).
func (h *Hub) Owned(ctx context.Context) ([]string, error) {
	m := &listOwned{reply: newReply()}
	v, err := h.askSupervisor(ctx, m, m.reply, "list owned canvases")
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// Handoff passivates canvasID now so that another node can own it: its
// actor stops taking requests, lets the append in flight finish, writes a
// final checkpoint, gives its claim back and stops. Handoff returns once
// the actor has stopped, nil also when the canvas is not active here.
// Until then, every request for the canvas that reaches this node, and
// every one already waiting for an older actor of the canvas to stop, is
// answered at once with a *canvases.NotOwnerError without a Holder, which
// the routing layer sends on to the new owner; so is one that comes in
// the HandoffGrace after it, so that a router that has not learnt of the
// move does not bring the canvas back here. Later, a request may activate
// the canvas here again. ctx bounds the wait (the handoff
// goes on without it).
func (h *Hub) Handoff(ctx context.Context, canvasID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := &handoff{canvas: canvasID, reply: newReply()}
	h.system.Root.Send(h.super, m)
	select {
	case <-m.reply:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("actors: handoff of canvas %s: %w", canvasID, ctx.Err())
	}
}

// Epoch returns the epoch of canvasID's live actor on this node (the id of
// the epoch marker its activation appended to the journal) and the seq it
// has committed, for an operator's view; ok is false, and nothing is
// activated, when the canvas is not live here.
func (h *Hub) Epoch(ctx context.Context, canvasID string) (epoch string, seq uint64, ok bool, err error) {
	m := &getEpoch{canvas: canvasID, reply: newReply()}
	v, err := h.askSupervisor(ctx, m, m.reply, "epoch of canvas "+canvasID)
	if err != nil {
		return "", 0, false, err
	}
	r := v.(*epochResult)
	return r.epoch, r.seq, r.ok, nil
}

// askSupervisor sends msg to the supervisor and waits, at most AskTimeout,
// for the answer on reply.
func (h *Hub) askSupervisor(ctx context.Context, msg any, reply reply, what string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.system.Root.Send(h.super, msg)
	t := time.NewTimer(h.cfg.AskTimeout)
	defer t.Stop()
	select {
	case v := <-reply:
		return v, nil
	case <-t.C:
		return nil, fmt.Errorf("actors: %s: %w", what, actor.ErrTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("actors: %s: %w", what, ctx.Err())
	}
}
