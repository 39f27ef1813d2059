package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// fanout: one canvas, many clients, each changing its own card at a fixed
// rate; every change goes to every client. It measures the cost of one
// commit fanned out wide.
func scenarioFanout(ctx context.Context, e *env, r *Run) error {
	f := e.cfg.Fanout
	return runLive(ctx, e, r, liveSpec{canvases: 1, perCanvas: f.Clients, rate: f.Rate})
}

// spread: many canvases with a few clients each, a change per second per
// client: the many-rooms case (connections, actors and subscriptions by
// the thousand).
func scenarioSpread(ctx context.Context, e *env, r *Run) error {
	s := e.cfg.Spread
	return runLive(ctx, e, r, liveSpec{canvases: s.Canvases, perCanvas: s.Clients, rate: s.Rate})
}

type liveSpec struct {
	canvases  int
	perCanvas int
	rate      float64 // changes per second per client
}

// runLive connects canvases × perCanvas clients, gives each a card of its
// own, then has every client stamp its card at the rate, open loop, while
// every client records the latency of every change it receives.
func runLive(ctx context.Context, e *env, r *Run, spec liveSpec) error {
	n := spec.canvases * spec.perCanvas
	r.Params["canvases"], r.Params["clients_per_canvas"], r.Params["connections"] = spec.canvases, spec.perCanvas, n
	r.Params["rate_per_client"] = spec.rate
	r.Params["offered_changes_per_s"] = spec.rate * float64(n)
	ids, err := e.rest.createCanvases(ctx, spec.canvases, r.Name)
	if err != nil {
		return fmt.Errorf("create canvases: %w", err)
	}
	if err := e.place(ctx, r, ids); err != nil {
		return err
	}
	// Client i is on canvas i mod canvases (consecutive clients on
	// different canvases: joins spread over the rooms), on the canvas's
	// non-owners in turn.
	at := func(i int) string { return e.wsFor(ids[i%spec.canvases], i/spec.canvases) }
	clients, err := e.connect(ctx, r, n, clientOpts{buffer: smallBuffer}, at, func(ctx context.Context, c *client, i int) error {
		id := ids[i%spec.canvases]
		if _, err := c.join(ctx, id); err != nil {
			return err
		}
		return c.addCard(ctx, id, cardID(i), i)
	})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		if c == nil {
			continue
		}
		phase := time.Duration(rand.Float64() * float64(time.Second) / spec.rate)
		wg.Go(func() { c.paced(sctx, NewPacer(start, spec.rate, phase), ids[i%spec.canvases], cardID(i)) })
	}
	ok := sleepCtx(ctx, e.cfg.Warmup)
	if ok {
		r.OpenWindow(ctx, e)
		sleepCtx(ctx, e.cfg.Duration)
		r.CloseWindow(ctx, e)
	}
	stop()
	wg.Wait()
	r.Drain(ctx, e.cfg.Drain)
	r.CloseAll()
	return ctx.Err()
}

func cardID(i int) string { return "c" + strconv.Itoa(i) }

// addCard adds the client's own card and waits for the ack.
func (c *client) addCard(ctx context.Context, canvasID, id string, i int) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	err := c.sendOps(canvasID, now, 1, func(b []byte) []byte {
		b = append(b, `[{"op":"node.add","id":"`...)
		b = append(b, id...)
		b = append(b, `","kind":"note","x":`...)
		b = strconv.AppendInt(b, int64(i%100)*220, 10)
		b = append(b, `,"y":`...)
		b = strconv.AppendInt(b, int64(i/100)*140, 10)
		return append(b, `,"data":{"text":"load"}}]`...)
	})
	if err != nil {
		return err
	}
	return c.settle(ctx)
}

// paced sends stamps on the pacer's schedule until ctx ends.
func (c *client) paced(ctx context.Context, p *Pacer, canvasID, card string) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for p.Wait(ctx, t) {
		due := p.Due()
		n, skipped := p.Take(time.Now())
		c.run.Skipped.Add(int64(skipped))
		if c.run.inWindow(due.UnixNano()) {
			c.run.Lag.Record(c.idx, time.Since(due))
		}
		for range n {
			if err := c.sendStamp(canvasID, card); err != nil {
				if ctx.Err() == nil && c.alive() {
					c.run.Errors.Add("send: " + shortErr(err))
				}
				return
			}
		}
	}
}
