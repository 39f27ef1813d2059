package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/skerhq/sker/canvases"
)

// errClaimLost is why an actor whose claim stopped being valid stops.
var errClaimLost = errors.New("the canvas's claim is no longer valid on this node")

// claimHold is one incarnation's claim on its canvas, shared by the actor
// and its activation goroutine: whichever of the two comes last gives the
// claim back, so that an actor stopped (or restarted) while it was still
// claiming leaves no claim behind.
type claimHold struct {
	mu     sync.Mutex
	claim  Claim
	closed bool // the incarnation stopped: a claim set later is given back by its setter
}

// set records c as the incarnation's claim. It reports false when the
// incarnation has stopped meanwhile; the caller then gives c back.
func (h *claimHold) set(c Claim) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.claim = c
	return true
}

// take closes the hold and returns its claim for the caller to give back;
// nil when there is none (no Ownership, the claim is still being made, or
// it was taken already). A nil hold has none.
func (h *claimHold) take() Claim {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	c := h.claim
	h.claim = nil
	return c
}

// isClosed reports whether the incarnation has stopped.
func (h *claimHold) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// claimLocks serialise, per canvas, the claims of the incarnations of its
// actor on this node: an incarnation claims only once the one before has
// given its claim back. Without them a restarted actor, or one activated
// right after a passivation, could find its own node's claim still held
// and take itself for a stranger.
type claimLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // canvas id → closed when its lock is given back
}

func newClaimLocks() *claimLocks { return &claimLocks{held: map[string]chan struct{}{}} }

// lock takes id's lock, waiting for its holder to give it back, or for ctx.
func (l *claimLocks) lock(ctx context.Context, id string) error {
	for {
		l.mu.Lock()
		wait, held := l.held[id]
		if !held {
			l.held[id] = make(chan struct{})
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("wait for the previous claim of canvas %s to be given back: %w", id, ctx.Err())
		}
	}
}

// unlock gives id's lock back.
func (l *claimLocks) unlock(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait, held := l.held[id]; held {
		close(wait)
		delete(l.held, id)
	}
}

// claimCanvas claims the canvas for this incarnation, on the activation
// goroutine, before anything is read: the claim the actor will hold, or
// nil without Ownership. A claim made while the incarnation stopped is
// given back at once and reported as canvases.ErrUnavailable.
func (a *canvasActor) claimCanvas(ctx context.Context) (Claim, error) {
	own := a.hub.cfg.Ownership
	if own == nil {
		return nil, nil
	}
	if err := a.hub.claimLocks.lock(ctx, a.id); err != nil {
		return nil, fmt.Errorf("%w: %w", canvases.ErrUnavailable, err)
	}
	if a.hold.isClosed() {
		a.hub.claimLocks.unlock(a.id)
		return nil, fmt.Errorf("%w: canvas %s stopped before it claimed", canvases.ErrUnavailable, a.id)
	}
	c, err := own.Claim(ctx, a.id)
	if err != nil {
		a.hub.claimLocks.unlock(a.id)
		var notOwner *canvases.NotOwnerError
		if errors.As(err, &notOwner) {
			a.hub.metrics.claims.WithLabelValues("held_elsewhere").Inc()
			return nil, err
		}
		a.hub.metrics.claims.WithLabelValues("failed").Inc()
		return nil, fmt.Errorf("%w: claim canvas %s: %w", canvases.ErrUnavailable, a.id, err)
	}
	a.hub.metrics.claims.WithLabelValues("won").Inc()
	if !a.hold.set(c) {
		a.hub.giveBack(a.id, c)
		return nil, fmt.Errorf("%w: canvas %s stopped while it claimed", canvases.ErrUnavailable, a.id)
	}
	return c, nil
}

// giveBack releases c, a claim of canvas id, and then id's claim lock, so
// that the canvas's next incarnation here claims only after the release.
// It blocks for at most AskTimeout; the hub's background runs it.
func (h *Hub) giveBack(id string, c Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.AskTimeout)
	defer cancel()
	if err := c.Release(ctx); err != nil {
		// Lost or lapsed already, or the release did not get through: the
		// lease expires on its own.
		h.cfg.Logger.Warn("release canvas claim", "canvas_id", id, "err", err)
	}
	h.claimLocks.unlock(id)
}

// watchClaim tells the actor when its claim stops being valid, so that it
// stops taking changes at once, not only at its next append. The goroutine
// ends when the claim does, which a release makes it at the latest.
func (a *canvasActor) watchClaim() {
	done, epoch, self, root := a.claim.Done(), a.epoch, a.self, a.hub.system.Root
	a.hub.background(func() {
		<-done
		root.Send(self, &claimLost{epoch: epoch})
	})
}

// claimValid reports whether the actor may send a change to the journal:
// always without Ownership, else while its claim is valid (self-fencing).
func (a *canvasActor) claimValid() bool { return a.claim == nil || a.claim.Valid() }

// onClaimLost fails the actor when its claim is no longer valid: another
// node may own the canvas by now. A stopping actor that gives its claim
// back itself ignores it.
func (a *canvasActor) onClaimLost(ctx actor.Context) {
	if a.releasing || a.phase == phaseFailed {
		return
	}
	a.hub.metrics.lost.WithLabelValues("claim").Inc()
	a.fail(ctx, "lost its claim on the canvas", errClaimLost)
}

// stop gives the claim back, if the incarnation holds one, and then stops
// the actor: when it has stopped, the canvas's next owner, here or on
// another node, can claim it at once. A second call does nothing.
func (a *canvasActor) stop(ctx actor.Context) {
	if a.releasing {
		return
	}
	c := a.hold.take()
	if c == nil {
		ctx.Stop(ctx.Self())
		return
	}
	a.releasing = true
	id, epoch, self, root := a.id, a.epoch, a.self, a.hub.system.Root
	a.hub.background(func() {
		a.hub.giveBack(id, c)
		root.Send(self, &claimReleased{epoch: epoch})
	})
}

// abandonClaim gives the claim back when the actor stops or restarts other
// than through stop (a panic, repeated failures): the restarted
// incarnation's claim waits for it (see claimLocks).
func (a *canvasActor) abandonClaim() {
	if c := a.hold.take(); c != nil {
		id := a.id
		a.hub.background(func() { a.hub.giveBack(id, c) })
	}
}
