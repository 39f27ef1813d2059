package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// burst: durable commit throughput of one canvas: batches of Batch
// node.updates sent as fast as acks allow, Window in flight.
//
// Via "rest" (the default), one client posts the batches to
// POST /api/v1/canvases/:id/ops, which answers once the journal has each;
// one WebSocket client watches the canvas, checks that every batch
// arrives in order and measures delivery latency. Via "ws", Clients
// WebSocket connections send the batches as ops frames; the gateway limits
// every connection to its announced ops_per_second (2,000 by default), so
// each is paced just under it (no batch is rate_limited) and the offered
// load is capped at Clients × 95% of that limit.
func scenarioBurst(ctx context.Context, e *env, r *Run) error {
	b := e.cfg.Burst
	r.Params["via"], r.Params["batch_ops"], r.Params["window"] = b.Via, b.Batch, b.Window
	ids, err := e.rest.createCanvases(ctx, 1, r.Name)
	if err != nil {
		return fmt.Errorf("create canvas: %w", err)
	}
	id := ids[0]
	if err := e.place(ctx, r, ids); err != nil {
		return err
	}
	nodes := b.Batch // every batch touches every card once
	conns := 1
	if b.Via == "ws" {
		conns = b.Clients
		r.Params["connections"] = b.Clients
	}
	clients, err := e.connect(ctx, r, conns, clientOpts{buffer: largeBuffer, window: b.Window}, func(i int) string { return e.wsFor(id, i) }, func(ctx context.Context, c *client, i int) error {
		_, err := c.join(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	if clients[0] == nil {
		return fmt.Errorf("burst: the first connection failed")
	}
	if err := addCards(ctx, clients[0], id, "b", 0, nodes, 0); err != nil {
		return fmt.Errorf("burst: add cards: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if b.Via == "ws" {
		r.Params["per_connection_ops_limit"] = clients[0].hello.OpsPerSecond
		r.Params["offered_ops_cap"] = float64(clients[0].limiter(b.Batch).Limit()) * float64(count(clients))
		for _, c := range clients {
			if c != nil {
				c.batchOps.Store(int64(b.Batch))
				wg.Go(func() { c.flood(sctx, id, nodes, c.limiter(b.Batch)) })
			}
		}
	} else {
		track := r.track(id)
		for w := range b.Window {
			wg.Go(func() { restFlood(ctx, sctx, r, e.restFor(id, w), id, w, b.Batch, nodes, track) })
		}
	}
	if sleepCtx(ctx, e.cfg.Warmup) {
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

// restFlood posts batches one after another until stop ends; each request
// runs to its answer under ctx, so that no batch's outcome is left unknown.
func restFlood(ctx, stop context.Context, r *Run, rc *restClient, canvasID string, worker, batch, nodes int, track *canvasTrack) {
	var body []byte
	for k := 0; stop.Err() == nil; k++ {
		now := time.Now().UnixNano()
		body = append(body[:0], `{"cbid":"`...)
		body = strconv.AppendInt(body, int64(worker), 10)
		body = append(body, '.')
		body = strconv.AppendInt(body, now, 10)
		body = append(body, `","ops":[`...)
		for j := range batch {
			if j > 0 {
				body = append(body, ',')
			}
			body = stampOp(body, "b"+strconv.Itoa(j%nodes), now, j == 0, (k*7+j)%5000)
		}
		body = append(body, "]}"...)
		r.C.Sent.Add(1)
		win := r.inWindow(now)
		if win {
			r.C.WinSent.Add(1)
			r.C.WinOps.Add(int64(batch))
		}
		seq, err := rc.postOps(ctx, canvasID, body)
		if err != nil {
			r.C.Rejected.Add(1)
			r.Errors.Add("http: " + shortErr(err))
			if ctx.Err() != nil {
				return
			}
			continue
		}
		r.C.Acked.Add(1)
		track.acked(seq)
		if win {
			r.Ack.Record(worker, time.Since(time.Unix(0, now)))
			r.C.WinAcked.Add(1)
			r.C.WinAckedOps.Add(int64(batch))
		}
	}
}

// flood sends batches as fast as the window and the limiter allow. The
// first op of each batch carries the send time; the others move cards.
func (c *client) flood(ctx context.Context, canvasID string, nodes int, lim *rate.Limiter) {
	batch := int(c.batchOps.Load())
	for k := 0; ; k++ {
		if c.acquire(ctx) != nil || lim.WaitN(ctx, batch) != nil {
			return
		}
		now := time.Now().UnixNano()
		err := c.sendOps(canvasID, now, batch, func(b []byte) []byte {
			b = append(b, '[')
			for j := range batch {
				if j > 0 {
					b = append(b, ',')
				}
				b = stampOp(b, "b"+strconv.Itoa(j%nodes), now, j == 0, (k*7+j)%5000)
			}
			return append(b, ']')
		})
		if err != nil {
			if ctx.Err() == nil && c.alive() {
				c.run.Errors.Add("send: " + shortErr(err))
			}
			return
		}
	}
}

// addCards adds cards prefix<from>…prefix<to-1> to a canvas in batches of
// up to 500 ops (the server's default batch limit), a few in flight and
// paced under the server's announced per-connection ops limit, and waits
// for the last ack. textBytes pads each card's text, for realistic
// snapshots.
func addCards(ctx context.Context, c *client, canvasID, prefix string, from, to, textBytes int) error {
	const perBatch = 500
	c.batchOps.Store(perBatch)
	pad := make([]byte, textBytes)
	for i := range pad {
		pad[i] = 'a' + byte(i%26)
	}
	lim := c.limiter(perBatch)
	for first := from; first < to; first += perBatch {
		last := min(first+perBatch, to)
		if err := c.acquire(ctx); err != nil {
			return err
		}
		if err := lim.WaitN(ctx, last-first); err != nil {
			return err
		}
		err := c.sendOps(canvasID, time.Now().UnixNano(), last-first, func(b []byte) []byte {
			b = append(b, '[')
			for i := first; i < last; i++ {
				if i > first {
					b = append(b, ',')
				}
				b = append(b, `{"op":"node.add","id":"`...)
				b = append(b, prefix...)
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, `","kind":"note","x":`...)
				b = strconv.AppendInt(b, int64(i%100)*220, 10)
				b = append(b, `,"y":`...)
				b = strconv.AppendInt(b, int64(i/100)*140, 10)
				b = append(b, `,"w":200,"h":120,"data":{"text":"card `...)
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, ' ')
				b = append(b, pad...)
				b = append(b, `"}}`...)
			}
			return append(b, ']')
		})
		if err != nil {
			return err
		}
	}
	return c.settle(ctx)
}

// limiter paces a client's ops at 95% of the rate the server announced in
// hello, so that none is rate_limited; burst is the largest batch.
func (c *client) limiter(burst int) *rate.Limiter {
	limit := rate.Limit(float64(c.hello.OpsPerSecond) * 0.95)
	if c.hello.OpsPerSecond <= 0 {
		limit = rate.Inf
	}
	return rate.NewLimiter(limit, burst)
}
