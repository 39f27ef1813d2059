package actors

import (
	"context"
)

// Ownership claims, for this node, the canvases its actors activate. A
// node alone needs none (Config.Ownership nil): it owns every canvas it
// activates. In a cluster it is the lease bucket (cluster.Leases), so
// that at most one node accepts a canvas's changes at a time.
//
// The claim is not the fence. Every journal append is fenced by the
// expected last sequence of the canvas's subject, and an activation
// appends an epoch marker after what it read, so an actor of an older
// owner that still believes it owns the canvas fails its next append and
// stops. The claim keeps owners from fencing each other out in turn, and
// lets the routing layer find the owner.
//
// An actor claims its canvas before it loads it, checks Valid before it
// sends each batch to the journal, stops taking changes when Done is
// closed, and releases the claim when it stops, for whatever reason; an
// actor of the same canvas on the same node claims only after the one
// before has released.
type Ownership interface {
	// Claim takes canvasID's lease for this node. When another node holds
	// it the error wraps a *canvases.NotOwnerError naming that node, which
	// the actor then answers to every request until it stops; any other
	// error fails the activation (canvases.ErrUnavailable).
	Claim(ctx context.Context, canvasID string) (Claim, error)
}

// Claim is one actor's hold on its canvas: valid from the claim until it
// is released, lost, or lapses on this node's clock (self-fencing).
type Claim interface {
	// Valid reports whether the holder may still accept changes.
	Valid() bool
	// Done is closed when the claim stops being valid.
	Done() <-chan struct{}
	// Release gives the claim up, so another node can claim the canvas at
	// once. The claim is no longer valid, and Done is closed, from the
	// call on, whatever its error.
	Release(ctx context.Context) error
}
