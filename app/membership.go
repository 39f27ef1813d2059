package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/cluster"
	skerhttp "github.com/skerhq/sker/http"
)

// ClusterResponse is the answer of GET /cluster: the node that answers and
// the live nodes it knows, itself included, by name.
type ClusterResponse struct {
	Node  string         `json:"node"`
	Nodes []cluster.Node `json:"nodes"`
}

// clusterRoutes adds GET /cluster, answered only as skerhttp.OpsOnly
// admits (OPS_TOKEN, or loopback).
func (a *App) clusterRoutes() {
	a.http.App().Get("/cluster", skerhttp.OpsOnly(a.cfg.OpsToken), a.getCluster)
	a.http.App().Get("/cluster/canvases/:id", skerhttp.OpsOnly(a.cfg.OpsToken), a.getCanvasPlace)
}

func (a *App) getCluster(c *fiber.Ctx) error {
	resp := ClusterResponse{Node: a.cfg.NodeName, Nodes: []cluster.Node{}}
	if m := a.membership.Load(); m != nil {
		resp.Nodes = m.Nodes()
	}
	return c.JSON(resp)
}

func (a *App) getCanvasPlace(c *fiber.Ctx) error {
	id := c.Params("id")
	if !canvases.ValidID(id) {
		return apierr.Invalid("id", "want a canvas id (a UUID)")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), placeTimeout)
	defer cancel()
	p, err := a.place(ctx, id)
	if err != nil {
		a.log.Warn("cluster: where a canvas lives", "canvas_id", id, "err", err)
		return apierr.New(http.StatusServiceUnavailable, apierr.CodeUnavailable, "the lease bucket did not answer: "+err.Error())
	}
	return c.JSON(p)
}

// startMembership announces this node, with the HTTP address it listens
// on, and keeps the table of the others; Shutdown stops it first, so that
// the others drop this node at once.
func (a *App) startMembership(ctx context.Context) error {
	m, err := cluster.New(cluster.Config{
		Conn: a.nc, Names: a.names, Name: a.cfg.NodeName, Roles: a.cfg.Roles, Addr: a.Addr(), Logger: a.log,
		Stats: func(ctx context.Context) (cluster.Stats, error) {
			n, err := a.hub.Active(ctx)
			return cluster.Stats{Canvases: n, Connections: a.gateway.Connections()}, err
		},
	})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Start(sctx); err != nil {
		return err
	}
	a.membership.Store(m)
	return nil
}
