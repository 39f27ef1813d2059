package app

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

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
}

func (a *App) getCluster(c *fiber.Ctx) error {
	resp := ClusterResponse{Node: a.cfg.NodeName, Nodes: []cluster.Node{}}
	if a.members != nil {
		resp.Nodes = a.members.Nodes()
	}
	return c.JSON(resp)
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
	a.members = m
	return nil
}
