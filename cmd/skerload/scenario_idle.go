package main

import (
	"context"
	"fmt"
	"time"
)

// idle: what an open but quiet connection costs the server. Every
// connection authenticates and joins one of a few canvases (a browser tab
// left open), then nothing happens. The first connection of each canvas
// activates it (actor, room, subscriptions); the server's RSS is read
// after those and again after all the others, and the difference divided
// by their number is the memory per connection.
func scenarioIdle(ctx context.Context, e *env, r *Run) error {
	ic := e.cfg.Idle
	r.Params["connections"], r.Params["canvases"] = ic.Conns, ic.Canvases
	ids, err := e.rest.createCanvases(ctx, ic.Canvases, r.Name)
	if err != nil {
		return fmt.Errorf("create canvases: %w", err)
	}
	if err := e.place(ctx, r, ids); err != nil {
		return err
	}
	// The i-th connection joins canvas i mod Canvases, on the canvas's
	// non-owners in turn.
	at := func(i int) string { return e.wsFor(ids[i%ic.Canvases], i/ic.Canvases) }
	join := func(ctx context.Context, c *client, i int) error {
		_, err := c.join(ctx, ids[i%ic.Canvases])
		return err
	}
	first, err := e.connect(ctx, r, ic.Canvases, clientOpts{buffer: smallBuffer}, at, join)
	if err != nil {
		return err
	}
	settle := min(2*time.Second, e.cfg.Duration)
	sleepCtx(ctx, settle)
	srv0, hasSrv := e.srv.Stats()
	self0, _ := selfStats()
	t := time.Now()
	rest, err := e.connect(ctx, r, ic.Conns-ic.Canvases, clientOpts{buffer: smallBuffer}, func(i int) string { return at(i + ic.Canvases) }, func(ctx context.Context, c *client, i int) error {
		return join(ctx, c, i+ic.Canvases)
	})
	if err != nil {
		return err
	}
	r.Extra["connect_s"] = time.Since(t).Seconds()
	// Hold them: the window shows what quiet connections cost in CPU.
	r.OpenWindow(ctx, e)
	sleepCtx(ctx, e.cfg.Duration)
	r.CloseWindow(ctx, e)
	added := int64(count(rest))
	if hasSrv && added > 0 {
		srv1, _ := e.srv.Stats()
		self1, _ := selfStats()
		r.Extra["server_rss_before_mib"] = float64(srv0.RSSBytes) / (1 << 20)
		r.Extra["server_rss_after_mib"] = float64(srv1.RSSBytes) / (1 << 20)
		r.Extra["server_bytes_per_conn"] = float64(srv1.RSSBytes-srv0.RSSBytes) / float64(added)
		r.Extra["generator_bytes_per_conn"] = float64(self1.RSSBytes-self0.RSSBytes) / float64(added)
	}
	alive := 0
	for _, c := range append(first, rest...) {
		if c != nil && c.alive() {
			alive++
		}
	}
	// Failed connects are in the errors, dropped connections in the
	// disconnects; this is what held to the end.
	r.Extra["connections_open"] = float64(alive)
	r.CloseAll()
	return ctx.Err()
}

func count(cs []*client) int {
	n := 0
	for _, c := range cs {
		if c != nil {
			n++
		}
	}
	return n
}
