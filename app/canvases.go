package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/cluster"
)

// leaseOwnership claims canvases for this node through the cluster's
// lease bucket, for the canvas actors (actors.Ownership).
type leaseOwnership struct {
	leases *cluster.Leases
	node   string
}

func (o leaseOwnership) Claim(ctx context.Context, canvasID string) (actors.Claim, error) {
	l, err := o.leases.Claim(ctx, canvasID, o.node)
	var taken *cluster.TakenError
	if errors.As(err, &taken) {
		return nil, fmt.Errorf("%w (lease revision %d)", &canvases.NotOwnerError{CanvasID: canvasID, Holder: taken.Holder}, taken.Revision)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// openLeases opens the lease bucket of a clustered node, at
// JOURNAL_REPLICAS copies, once the NATS cluster has formed.
func (a *App) openLeases(ctx context.Context, js jetstream.JetStream) error {
	if !a.cfg.Clustered() {
		return nil
	}
	return a.whenFormed(ctx, "lease bucket", func(ctx context.Context) (err error) {
		a.leases, err = cluster.OpenLeases(ctx, js, cluster.LeaseConfig{Names: a.names, Replicas: a.cfg.JournalReplicas})
		return err
	})
}

// ownership is what the canvas actors claim their canvases through: the
// leases of a clustered node, nothing for a node alone.
func (a *App) ownership() actors.Ownership {
	if a.leases == nil {
		return nil
	}
	return leaseOwnership{leases: a.leases, node: a.cfg.NodeName}
}

// hasRole reports whether this node has role (SKER_ROLES).
func (a *App) hasRole(role string) bool { return slices.Contains(a.cfg.Roles, role) }

// liveCanvasNodes names the live nodes with the canvases role, as this
// node's membership sees them; none before it starts.
func (a *App) liveCanvasNodes() []string {
	m := a.membership.Load()
	if m == nil {
		return nil
	}
	return m.Live(cluster.RoleCanvases)
}

// newRouter builds the routing layer of a clustered node: every canvas
// call goes to the canvas's owner, this node's hub when it is this node
// (and it has the canvases role).
func (a *App) newRouter(reg prometheus.Registerer) (*cluster.Router, error) {
	var local cluster.Local
	if a.hasRole(cluster.RoleCanvases) {
		local = a.hub
	}
	return cluster.NewRouter(cluster.RouterConfig{
		Conn: a.nc, Names: a.names, Node: a.cfg.NodeName, Local: local, Leases: a.leases,
		Live: a.liveCanvasNodes, Logger: a.log, Registerer: reg,
	})
}

// newRebalancer builds the rounds that hand this node's canvases to the
// nodes placement prefers for them (Run starts them once it announces
// this node); nil without the canvases role.
func (a *App) newRebalancer(reg prometheus.Registerer) *cluster.Rebalancer {
	if !a.hasRole(cluster.RoleCanvases) {
		return nil
	}
	return cluster.NewRebalancer(cluster.RebalanceConfig{
		Node: a.cfg.NodeName, Live: a.liveCanvasNodes, Owned: a.hub.Owned, Handoff: a.hub.Handoff,
		Warm: func(ctx context.Context, canvasID string) {
			// A catch-up from far ahead is the smallest request that
			// loads the canvas on its new owner.
			_, _ = a.router.Since(ctx, canvasID, 0)
		},
		Interval: a.cfg.ClusterRebalanceInterval, Logger: a.log, Registerer: reg,
	})
}

// CanvasPlace is the answer of GET /cluster/canvases/:id: where a canvas
// lives. Owner holds its lease ("" when no node does: it is not loaded
// anywhere, and the next request loads it on Preferred); Epoch and Seq are
// the owner's actor's epoch marker and committed seq, asked of the owner
// from whichever node answers, empty when the canvas is not live there;
// OwnerError says why the owner did not tell them (it may be gone, its
// lease not yet expired). LoadFailure is set when the last load of the
// canvas on the answering node failed (the canvas answers 503 until one
// succeeds), with the reason and the error.
type CanvasPlace struct {
	Canvas        string              `json:"canvas"`
	Owner         string              `json:"owner"`
	LeaseRevision uint64              `json:"lease_revision,omitempty"`
	Preferred     string              `json:"preferred"`
	Epoch         string              `json:"epoch,omitempty"`
	Seq           uint64              `json:"seq,omitempty"`
	OwnerError    string              `json:"owner_error,omitempty"`
	LoadFailure   *actors.LoadFailure `json:"load_failure,omitempty"`
}

// place says where canvasID lives.
func (a *App) place(ctx context.Context, canvasID string) (CanvasPlace, error) {
	p := CanvasPlace{Canvas: canvasID}
	if a.leases == nil {
		p.Preferred = a.cfg.NodeName
	} else {
		p.Preferred = cluster.Owner(canvasID, a.liveCanvasNodes())
		holder, rev, err := a.leases.Holder(ctx, canvasID)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return p, err
		default:
			p.Owner, p.LeaseRevision = holder, rev
		}
	}
	var epoch string
	var seq uint64
	var ok bool
	var err error
	switch {
	case a.router != nil && p.Owner != "":
		// The owner's own word; an owner that does not answer leaves the
		// rest of the answer standing.
		if epoch, seq, ok, err = a.router.EpochOn(ctx, p.Owner, canvasID); err != nil {
			p.OwnerError, err = err.Error(), nil
		}
	case a.hub != nil:
		epoch, seq, ok, err = a.hub.Epoch(ctx, canvasID)
	}
	if err != nil {
		return p, err
	}
	if a.hub != nil {
		if f, failed := a.hub.LoadFailure(canvasID); failed {
			p.LoadFailure = &f
		}
	}
	if ok {
		p.Epoch, p.Seq = epoch, seq
		if a.leases == nil {
			p.Owner = a.cfg.NodeName
		}
	}
	return p, nil
}

// placeTimeout bounds GET /cluster/canvases/:id.
const placeTimeout = 5 * time.Second
