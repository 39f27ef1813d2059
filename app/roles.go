package app

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/rolecache"
)

// newRoles keeps canvas roles in memory for the REST API and the gateway
// (rolecache), and forgets one whenever any node announces a membership
// change on NATS (the members subject of its canvas, which the gateways
// hear too). The subscription ends with the NATS connection.
func (a *App) newRoles(reg prometheus.Registerer) (*rolecache.Cache, error) {
	c := rolecache.New(a.store, rolecache.Config{Registerer: reg})
	_, err := a.nc.Subscribe(a.names.AllMembers(), func(msg *nats.Msg) {
		id := a.names.MembersCanvas(msg.Subject)
		if id == "" {
			return
		}
		var ev struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal(msg.Data, &ev); err != nil {
			c.Invalidate(id, "") // unreadable: forget the whole canvas
			return
		}
		c.Invalidate(id, ev.User)
	})
	if err != nil {
		return nil, fmt.Errorf("app: hear membership changes: %w", err)
	}
	return c, nil
}
