package app

import (
	"context"
	"strings"

	"github.com/skerhq/sker/presence"
)

// newPresence is the directory of who is on which canvas, for the canvas
// list: with Redis, every node's connections (keys
// "<NATS_PREFIX lower-cased>:presence:<canvas>"); without, this node's.
func (a *App) newPresence() presence.Directory {
	if a.redis == nil {
		return presence.NewLocal(a.cfg.NodeName)
	}
	return presence.NewRedis(presence.RedisConfig{
		Client: a.redis, Prefix: strings.ToLower(a.cfg.NatsPrefix) + ":", Node: a.cfg.NodeName, Logger: a.log,
	})
}

// closePresence unlists this node's connections at once (with Redis), once
// the gateway has closed them.
func (a *App) closePresence(ctx context.Context) error {
	if r, ok := a.presence.(*presence.Redis); ok {
		return r.Close(ctx)
	}
	return nil
}
