package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// cold: how long opening a canvas that is not in memory takes. The harness
// fills canvases of Cards cards, restarts the server (a clean shutdown
// checkpoints them; after it no canvas is active), opens a small canvas to
// warm the process up, then times join → joined (snapshot included) on
// each big canvas in turn: the actor's activation (checkpoint, journal
// replay, epoch marker), the export and its encoding, the write and the
// read of the frame.
func scenarioCold(ctx context.Context, e *env, r *Run) error {
	cc := e.cfg.Cold
	r.Params["cards"], r.Params["canvases"] = cc.Cards, cc.Canvases
	ids, err := e.rest.createCanvases(ctx, cc.Canvases+1, r.Name)
	if err != nil {
		return fmt.Errorf("create canvases: %w", err)
	}
	warm, big := ids[0], ids[1:]
	for i, id := range ids {
		n := cc.Cards
		if i == 0 {
			n = 1
		}
		if err := fillCanvas(ctx, e, r, id, n); err != nil {
			return err
		}
	}

	t := time.Now()
	restarted, err := e.srv.Restart(ctx)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if restarted {
		r.Extra["restart_s"] = time.Since(t).Seconds()
		// Kept-alive connections went with the old process; a request on
		// one that the client has not yet seen closed would fail.
		e.rest.http.CloseIdleConnections()
	} else {
		r.Notes = append(r.Notes, "the server was not restarted (not started by skerload): the canvases may still be active, so the opens may be warm")
	}
	counts := make(chan int, 1)
	opener, err := dialClient(ctx, r, e.ws, e.rest.token, 1, clientOpts{buffer: largeBuffer})
	if err != nil {
		return err
	}
	opener.onJoined = func(f []byte) {
		var j struct {
			Snapshot struct {
				Nodes []json.RawMessage `json:"nodes"`
			} `json:"snapshot"`
		}
		_ = json.Unmarshal(f, &j)
		counts <- len(j.Snapshot.Nodes)
	}
	r.addClient(opener)
	if _, err := opener.join(ctx, warm); err != nil {
		return err
	}
	<-counts
	r.OpenWindow(ctx, e)
	for i, id := range big {
		res, err := opener.join(ctx, id)
		if err != nil {
			return err
		}
		r.Open.Record(0, res.took)
		if got := <-counts; got != cc.Cards {
			r.Errors.Add(fmt.Sprintf("missing delivery: snapshot with %d cards, want %d", got, cc.Cards))
		}
		if i == 0 {
			r.Extra["first_open_ms"] = float64(res.took.Microseconds()) / 1000
			r.Extra["snapshot_bytes"] = float64(res.bytes)
		}
	}
	r.CloseWindow(ctx, e)
	r.CloseAll()
	return nil
}

// fillCanvas adds n cards to a canvas through connections of its own,
// each paced under the server's per-connection ops limit (so a 10,000-card
// canvas fills in about a second rather than five), and closes them once
// every one has received every change.
func fillCanvas(ctx context.Context, e *env, r *Run, id string, n int) error {
	const perConn = 2000
	conns := min((n+perConn-1)/perConn, 8)
	fillers := make([]*client, conns)
	defer func() {
		for _, c := range fillers {
			if c != nil {
				c.close()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	for k := range conns {
		first, last := n*k/conns, n*(k+1)/conns
		g.Go(func() error {
			c, err := dialClient(gctx, r, e.ws, e.rest.token, k, clientOpts{buffer: largeBuffer, window: 4})
			if err != nil {
				return err
			}
			r.addClient(c)
			fillers[k] = c
			if _, err := c.join(gctx, id); err != nil {
				return err
			}
			if err := addCards(gctx, c, id, "k", first, last, 60); err != nil {
				return fmt.Errorf("fill canvas: %w", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.Drain(ctx, e.cfg.Drain)
	return nil
}
