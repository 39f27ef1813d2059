package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Run is the shared state of one scenario run: its clients, counters,
// histograms and the measurement window.
type Run struct {
	Name string

	C      Counters
	Lat    *Latency // send → delivery, at every receiver
	Commit *Latency // commit ("at", ms resolution) → delivery
	Ack    *Latency // send → ack, at the sender
	Open   *Latency // cold: join → joined with the snapshot
	Lag    *Latency // pacing: how late sends left after they were due

	Errors  Reasons // protocol errors, rejects, error frames, missing deliveries
	Disc    Reasons // connections that ended without the harness closing them
	Retries Reasons // failover: batches answered unavailable or outcome_unknown, and sent again
	Skipped atomic.Int64

	// Params are the scenario's sizes; Extra its own figures (open times,
	// memory per connection…); both go to the result as they are.
	Params   map[string]any
	Extra    map[string]float64
	Notes    []string
	Timeline []Sample // guarded by mu

	winFrom, winTo atomic.Int64 // unix ns; zero: not set yet

	mu      sync.Mutex
	tracks  map[string]*canvasTrack
	clients []*client

	// Process figures at the window's edges.
	srv0, srv1, self0, self1 ProcStats
	hasSrv                   bool
	busy0, busy1             float64 // machine CPU seconds
	t0, t1                   time.Time
}

// NewRun returns an empty run.
func NewRun(name string) *Run {
	const shards = 32
	return &Run{
		Name: name, Lat: NewLatency(shards), Commit: NewLatency(shards), Ack: NewLatency(shards),
		Open: NewLatency(1), Lag: NewLatency(shards),
		Params: map[string]any{}, Extra: map[string]float64{}, tracks: map[string]*canvasTrack{},
	}
}

// canvasTrack is what the run knows of one canvas: the highest seq acked
// to any of its senders, which every receiver must reach.
type canvasTrack struct {
	maxAcked atomic.Uint64
}

func (t *canvasTrack) acked(seq uint64) {
	for {
		cur := t.maxAcked.Load()
		if seq <= cur || t.maxAcked.CompareAndSwap(cur, seq) {
			return
		}
	}
}

func (r *Run) track(canvasID string) *canvasTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tracks[canvasID]
	if t == nil {
		t = &canvasTrack{}
		r.tracks[canvasID] = t
	}
	return t
}

func (r *Run) addClient(c *client) {
	r.mu.Lock()
	r.clients = append(r.clients, c)
	r.mu.Unlock()
}

func (r *Run) allClients() []*client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*client(nil), r.clients...)
}

// inWindow reports whether a send stamped at t (unix ns) is measured.
func (r *Run) inWindow(t int64) bool {
	from := r.winFrom.Load()
	if from == 0 || t < from {
		return false
	}
	to := r.winTo.Load()
	return to == 0 || t < to
}

// windowEdge is how far ahead a window edge is announced: every sender
// and receiver sees the new edge before the clock reaches it, so a send is
// counted on both sides or on neither.
const windowEdge = 20 * time.Millisecond

// OpenWindow starts measuring.
func (r *Run) OpenWindow(ctx context.Context, e *env) {
	t := time.Now().Add(windowEdge)
	r.winFrom.Store(t.UnixNano())
	sleepCtx(ctx, time.Until(t))
	r.t0 = time.Now()
	r.busy0 = machineBusy()
	r.self0, _ = selfStats()
	r.srv0, r.hasSrv = e.srv.Stats()
	e.profileStart(ctx, r)
}

// CloseWindow stops measuring; sends after it are not counted.
func (r *Run) CloseWindow(ctx context.Context, e *env) {
	t := time.Now().Add(windowEdge)
	r.winTo.Store(t.UnixNano())
	sleepCtx(ctx, time.Until(t))
	r.t1 = time.Now()
	r.busy1 = machineBusy()
	r.self1, _ = selfStats()
	if r.hasSrv {
		r.srv1, r.hasSrv = e.srv.Stats()
	}
	e.profileStop(ctx, r)
}

// Window is the measured duration.
func (r *Run) Window() time.Duration {
	if r.t1.IsZero() {
		return 0
	}
	return r.t1.Sub(r.t0)
}

// behind counts the batches receivers have not seen of what was acked on
// their canvases.
func (r *Run) behind() int64 {
	var n int64
	for _, c := range r.allClients() {
		jc := c.joinedTo.Load()
		if jc == nil {
			continue
		}
		if want, got := jc.track.maxAcked.Load(), c.lastSeq.Load(); got < want {
			n += int64(want - got)
		}
	}
	return n
}

// Drain waits until every batch sent has its ack or reject and every
// receiver has every acked batch, or until timeout; what is still missing
// then counts as errors.
func (r *Run) Drain(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		pending := r.C.Sent.Load() - r.C.Acked.Load() - r.C.Rejected.Load()
		behind := r.behind()
		if pending <= 0 && behind == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.Errors.AddN("no ack or reject", pending)
			r.Errors.AddN("missing delivery", behind)
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// CloseAll closes every client, many at a time.
func (r *Run) CloseAll() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range r.allClients() {
		sem <- struct{}{}
		wg.Go(func() {
			c.close()
			<-sem
		})
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
