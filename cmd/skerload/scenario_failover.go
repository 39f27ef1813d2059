package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// failover (cluster only): fanout-like load on one canvas, every client on
// a node that does not own it, and kill -9 of the owner in the middle of
// the window. Each client sends one batch at a time on its schedule: a
// new card of its own (so that every acknowledged change can be looked
// for afterwards) and the send time stamped on its first card (for the
// latencies). A batch answered unavailable or outcome_unknown is sent
// again with the same cbid, as a client of a cluster does. It reports the
// time the canvas was not writable (the longest gap between
// acknowledgements from the kill on), the acknowledged changes missing
// when the canvas is read back afterwards (must be 0), the batches sent
// again, protocol errors and disconnects.
func scenarioFailover(ctx context.Context, e *env, r *Run) error {
	if e.cluster == nil {
		return errors.New("failover needs a cluster started by skerload (-cluster 3)")
	}
	f := e.cfg.Failover
	r.Params["clients"], r.Params["rate_per_client"], r.Params["window_s"] = f.Clients, f.Rate, f.Window.Seconds()
	ids, err := e.rest.createCanvases(ctx, 1, r.Name)
	if err != nil {
		return fmt.Errorf("create canvas: %w", err)
	}
	id := ids[0]
	if err := e.place(ctx, r, ids); err != nil {
		return err
	}
	owner, err := e.cluster.OwnerOf(ctx, id)
	if err != nil {
		return err
	}
	clients, err := e.connect(ctx, r, f.Clients, clientOpts{buffer: smallBuffer, outcomes: true},
		func(i int) string { return e.wsFor(id, i) },
		func(ctx context.Context, c *client, i int) error {
			if _, err := c.join(ctx, id); err != nil {
				return err
			}
			return c.addCard(ctx, id, cardID(i), i)
		})
	if err != nil {
		return err
	}
	log := &ackLog{}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		if c == nil {
			continue
		}
		phase := time.Duration(rand.Float64() * float64(time.Second) / f.Rate)
		wg.Go(func() { c.writeThrough(sctx, NewPacer(start, f.Rate, phase), id, cardID(i), log) })
	}
	var killed time.Time
	if sleepCtx(ctx, e.cfg.Warmup) {
		r.OpenWindow(ctx, e)
		if sleepCtx(ctx, f.Window/2) {
			killed = time.Now()
			e.cluster.Kill(owner)
			r.Extra["kill_s"] = killed.Sub(r.t0).Seconds()
			sleepCtx(ctx, f.Window-f.Window/2)
		}
		r.CloseWindow(ctx, e)
	}
	stop()
	wg.Wait()
	r.Drain(ctx, e.cfg.Drain)
	if killed.IsZero() {
		return ctx.Err()
	}
	return e.failoverFigures(ctx, r, id, owner, killed, log)
}

// failoverFigures reads the canvas back on a live node and books what the
// run measured.
func (e *env) failoverFigures(ctx context.Context, r *Run, id string, owner int, killed time.Time, log *ackLog) error {
	names := e.cluster.NodeURLs()
	r.Params["killed_node"] = fmt.Sprintf("node-%d", owner+1)
	if o, err := e.cluster.OwnerOf(ctx, id); err == nil && o >= 0 {
		r.Params["new_owner"] = fmt.Sprintf("node-%d", o+1)
	}
	gap, first := log.longestGap(killed)
	if gap < 0 {
		r.Errors.Add("no ack after the kill")
	} else {
		r.Extra["failover_s"] = gap.Seconds()
		r.Extra["first_ack_after_kill_s"] = first.Seconds()
	}
	for code, n := range r.Retries.Map() {
		r.Extra["sent_again_"+code] = float64(n)
	}
	rc := newRESTClient(names[(owner+1)%len(names)])
	rc.token = e.rest.token
	var cv struct {
		Seq   uint64 `json:"seq"`
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	if err := rc.do(ctx, http.MethodGet, "/api/v1/canvases/"+id, nil, &cv); err != nil {
		return fmt.Errorf("failover: read the canvas back: %w", err)
	}
	have := make(map[string]bool, len(cv.Nodes))
	for _, n := range cv.Nodes {
		have[n.ID] = true
	}
	acked, lost := log.ids(), 0
	for _, a := range acked {
		if !have[a] {
			lost++
		}
	}
	r.Extra["acked_changes"] = float64(len(acked))
	r.Extra["acks_lost"] = float64(lost)
	r.Extra["canvas_seq"] = float64(cv.Seq)
	r.Errors.AddN("ack lost", int64(lost))
	return nil
}

// writeThrough sends one batch at a time on p's schedule until ctx ends,
// each sent again (same cbid, 100 ms later) while the answer is
// unavailable or outcome_unknown; log gets every acknowledged card.
func (c *client) writeThrough(ctx context.Context, p *Pacer, canvasID, card string, log *ackLog) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for k := 0; p.Wait(ctx, t); k++ {
		n, skipped := p.Take(time.Now())
		c.run.Skipped.Add(int64(skipped + max(n-1, 0)))
		stamp := time.Now().UnixNano()
		cbid := strconv.Itoa(c.idx) + "." + strconv.FormatInt(stamp, 10)
		id := "f" + strconv.Itoa(c.idx) + "-" + strconv.Itoa(k)
		for {
			err := c.sendOps(canvasID, stamp, 2, func(b []byte) []byte {
				b = append(b, `[{"op":"node.add","id":"`...)
				b = append(b, id...)
				b = append(b, `","kind":"note","x":`...)
				b = strconv.AppendInt(b, int64(k%50)*10, 10)
				b = append(b, `,"y":`...)
				b = strconv.AppendInt(b, int64(c.idx)*10, 10)
				b = append(b, "},"...)
				return append(stampOp(b, card, stamp, true, -1), ']')
			})
			if err != nil {
				if ctx.Err() == nil && c.alive() {
					c.run.Errors.Add("send: " + shortErr(err))
				}
				return
			}
			o, ok := c.await(cbid)
			if !ok {
				return
			}
			if o.code == "" {
				log.add(id, time.Now())
				break
			}
			if !retryable(o.code) || !sleepCtx(ctx, 100*time.Millisecond) {
				return // counted as an error by the read loop, or the run ends
			}
		}
	}
}

// await waits for the answer to cbid (answers to other batches, such as
// the set-up's, are passed over).
func (c *client) await(cbid string) (outcome, bool) {
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case o := <-c.outcomes:
			if o.cbid == cbid {
				return o, true
			}
		case <-c.done:
			return outcome{}, false
		case <-timeout.C:
			c.run.Errors.Add("no answer in a minute")
			return outcome{}, false
		}
	}
}

// ackLog is every acknowledged card and when its ack arrived.
type ackLog struct {
	mu sync.Mutex
	id []string
	at []time.Time
}

func (l *ackLog) add(id string, at time.Time) {
	l.mu.Lock()
	l.id, l.at = append(l.id, id), append(l.at, at)
	l.mu.Unlock()
}

func (l *ackLog) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.id)
}

// longestGap is the longest time without an acknowledgement from from on
// (the first gap counts from from itself): how long the canvas was not
// writable. first is the time from from to the first ack after it. Both
// are -1 when nothing was acknowledged after from.
func (l *ackLog) longestGap(from time.Time) (gap, first time.Duration) {
	l.mu.Lock()
	var times []time.Time
	for _, a := range l.at {
		if a.After(from) {
			times = append(times, a)
		}
	}
	l.mu.Unlock()
	if len(times) == 0 {
		return -1, -1
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	prev := from
	for _, a := range times {
		gap = max(gap, a.Sub(prev))
		prev = a
	}
	return gap, times[0].Sub(from)
}
