package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/canvases"
)

// maxCachedHolders bounds the table of known holders; past it the table
// starts again empty, and each canvas's holder is looked up again once.
const maxCachedHolders = 1 << 16

// resolve returns the node to send canvasID's next call to: the holder
// known, else the lease's holder, else the node placement prefers.
func (r *Router) resolve(ctx context.Context, canvasID string) (string, error) {
	if n := r.cached(canvasID); n != "" {
		return n, nil
	}
	holder, _, err := r.cfg.Leases.Holder(ctx, canvasID)
	if err == nil && holder != "" {
		r.remember(canvasID, holder)
		return holder, nil
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", fmt.Errorf("%w: canvas %s: look up its lease: %w", canvases.ErrUnavailable, canvasID, err)
	}
	return r.preferred(canvasID)
}

// quickTarget is resolve without the lease lookup, for a call that must
// not block: the holder known, else the node placement prefers, which
// redirects the call when another node holds the lease.
func (r *Router) quickTarget(canvasID string) (string, error) {
	if n := r.cached(canvasID); n != "" {
		return n, nil
	}
	return r.preferred(canvasID)
}

func (r *Router) preferred(canvasID string) (string, error) {
	if n := Owner(canvasID, r.cfg.Live()); n != "" {
		return n, nil
	}
	return "", fmt.Errorf("%w: canvas %s: no live node has the %s role", canvases.ErrUnavailable, canvasID, RoleCanvases)
}

// cached is the holder known for canvasID, "" when none is. This node is
// known only while its Local owns the canvas: once the canvas moved away
// (a handoff, a lost claim), its holder is looked up again rather than
// the canvas brought back here.
func (r *Router) cached(canvasID string) string {
	r.mu.Lock()
	n := r.holders[canvasID]
	r.mu.Unlock()
	if n == r.cfg.Node && r.cfg.Local != nil && !r.cfg.Local.Owns(canvasID) {
		r.forget(canvasID)
		return ""
	}
	return n
}

func (r *Router) remember(canvasID, node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.holders[canvasID]; !ok && len(r.holders) >= maxCachedHolders {
		r.holders = map[string]string{}
	}
	r.holders[canvasID] = node
}

func (r *Router) forget(canvasID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.holders, canvasID)
}
