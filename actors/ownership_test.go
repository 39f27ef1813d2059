package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/cluster"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
)

// testLeaseTTL is short, so that a lease that is not renewed lapses within
// a test; renewals come every TTL/3.
const testLeaseTTL = 1500 * time.Millisecond

// leaseOwnership is a node's Ownership over the real lease bucket, as the
// app wires it: a lease held by another node becomes the
// *canvases.NotOwnerError that names it.
type leaseOwnership struct {
	t      testing.TB
	leases *cluster.Leases
	node   string
	claims atomic.Int32 // successful claims

	mu          sync.Mutex
	last        *leaseClaim
	claimGate   chan struct{} // when set, claims wait until it is closed
	releaseGate chan struct{} // likewise for releases
}

func (o *leaseOwnership) Claim(ctx context.Context, canvasID string) (Claim, error) {
	o.wait(&o.claimGate)
	l, err := o.leases.Claim(ctx, canvasID, o.node)
	var taken *cluster.TakenError
	if errors.As(err, &taken) {
		return nil, fmt.Errorf("claim canvas %s: %w", canvasID, &canvases.NotOwnerError{CanvasID: canvasID, Holder: taken.Holder})
	}
	if err != nil {
		return nil, err
	}
	o.claims.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last = &leaseClaim{Lease: l, owner: o}
	return o.last, nil
}

// lastClaim is the claim made last.
func (o *leaseOwnership) lastClaim() *leaseClaim {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// holdClaims makes claims wait until the returned function is called
// (which may be called again; the test's end calls it).
func (o *leaseOwnership) holdClaims() (open func()) { return o.hold(&o.claimGate) }

// holdReleases is holdClaims for releases.
func (o *leaseOwnership) holdReleases() (open func()) { return o.hold(&o.releaseGate) }

func (o *leaseOwnership) hold(gate *chan struct{}) (open func()) {
	g := make(chan struct{})
	o.t.Cleanup(func() { open() })
	o.mu.Lock()
	*gate = g
	o.mu.Unlock()
	var once sync.Once
	open = func() {
		once.Do(func() {
			o.mu.Lock()
			*gate = nil
			o.mu.Unlock()
			close(g)
		})
	}
	return open
}

// wait waits for the gate, if one is set.
func (o *leaseOwnership) wait(gate *chan struct{}) {
	o.mu.Lock()
	g := *gate
	o.mu.Unlock()
	if g != nil {
		<-g
	}
}

// leaseClaim is a real lease. lapsed stands for the moment in which the
// node's clock has passed the lease's deadline but the actor has not
// heard of it yet (the Done goroutine's message is still on its way):
// Valid answers false, Done is not closed.
type leaseClaim struct {
	*cluster.Lease
	owner  *leaseOwnership
	lapsed atomic.Bool
}

func (c *leaseClaim) Valid() bool { return !c.lapsed.Load() && c.Lease.Valid() }

func (c *leaseClaim) Release(ctx context.Context) error {
	c.owner.wait(&c.owner.releaseGate)
	return c.Lease.Release(ctx)
}

// node is one node's Hub on the env, with its own Ownership.
func (e *env) node(t *testing.T, name string, mod func(*Config)) (*Hub, *leaseOwnership) {
	t.Helper()
	ls, err := cluster.OpenLeases(t.Context(), e.js, cluster.LeaseConfig{TTL: testLeaseTTL})
	if err != nil {
		t.Fatalf("open leases: %v", err)
	}
	own := &leaseOwnership{t: t, leases: ls, node: name}
	h := e.hub(func(c *Config) {
		c.Ownership = own
		if mod != nil {
			mod(c)
		}
	})
	return h, own
}

// leaseHolder is the node holding canvasID's lease, "" when none does.
func (e *env) leaseHolder(t *testing.T, canvasID string) string {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), natsname.Default().Leases())
	if err != nil {
		t.Fatalf("lease bucket: %v", err)
	}
	v, err := kv.Get(t.Context(), canvasID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("lease of %s: %v", canvasID, err)
	}
	return string(v.Value())
}

// journalSeqs are the batch seqs the canvas's journal holds, in order.
func (e *env) journalSeqs(t *testing.T, canvasID string) []uint64 {
	t.Helper()
	var seqs []uint64
	_, err := e.journal.Read(t.Context(), canvasID, func(_ uint64, rec journal.Record) error {
		for _, raw := range rec.Batches {
			var c journal.Committed
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			seqs = append(seqs, c.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read journal: %v", err)
	}
	return seqs
}

// wantSeqs fails unless the journal holds the batches 1..n, each once.
func wantSeqs(t *testing.T, e *env, canvasID string, n int) {
	t.Helper()
	got := e.journalSeqs(t, canvasID)
	ok := len(got) == n
	for i := 0; ok && i < n; i++ {
		ok = got[i] == uint64(i+1)
	}
	if !ok {
		t.Fatalf("journal seqs: got %v; want 1..%d, each once", got, n)
	}
}

func wantNotOwner(t *testing.T, what string, err error, holder string) {
	t.Helper()
	var notOwner *canvases.NotOwnerError
	if !errors.As(err, &notOwner) || notOwner.Holder != holder || !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("%s: got %v; want a NotOwnerError naming %q", what, err, holder)
	}
}

// TestHandoffMovesTheCanvas: two nodes on one NATS and one store. The node
// that activated a canvas owns it; the other is told who does, and takes
// it over after a handoff, at the next seq and with every change. The
// node that handed it off does not take it back: for HandoffGrace it
// tells a caller to look elsewhere, and after it, that b holds it.
func TestHandoffMovesTheCanvas(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnvOn(t, kind)
			id := e.canvas("c1")
			a, _ := e.node(t, "node-a", func(c *Config) { c.HandoffGrace = 300 * time.Millisecond })
			b, _ := e.node(t, "node-b", nil)
			ctx := t.Context()

			if got := mustSubmit(t, a, id, addNode("n1")); got != 1 {
				t.Fatalf("first seq on a: got %d; want 1", got)
			}
			_, err := b.Submit(ctx, id, "author-1", "", []canvas.Op{addNode("n2")})
			wantNotOwner(t, "submit on b", err, "node-a")
			if owned, err := a.Owned(ctx); err != nil || fmt.Sprint(owned) != "[c1]" {
				t.Fatalf("owned on a: got %v, %v; want [c1]", owned, err)
			}
			epoch, seq, ok, err := a.Epoch(ctx, id)
			if err != nil || !ok || seq != 1 || epoch == "" {
				t.Fatalf("epoch on a: got %q, %d, %v, %v; want an epoch at seq 1", epoch, seq, ok, err)
			}
			waitFor(t, "b's refused activation to stop", 5*time.Second, func() bool {
				n, err := b.Active(ctx)
				return err == nil && n == 0
			})
			if !a.Owns(id) || b.Owns(id) {
				t.Fatalf("owns: a %v, b %v; want a only", a.Owns(id), b.Owns(id))
			}
			if _, _, ok, err := b.Epoch(ctx, id); err != nil || ok {
				t.Fatalf("epoch on b: got ok %v, %v; want not live", ok, err)
			}
			if n, err := b.Active(ctx); err != nil || n != 0 {
				t.Fatalf("active on b after Epoch: got %d, %v; want 0 (Epoch activates nothing)", n, err)
			}

			if err := a.Handoff(ctx, id); err != nil {
				t.Fatalf("handoff: %v", err)
			}
			if a.Owns(id) {
				t.Fatalf("a still owns the canvas after its handoff")
			}
			if h := e.leaseHolder(t, id); h != "" {
				t.Fatalf("lease after the handoff: held by %q; want released", h)
			}
			if got := mustSubmit(t, b, id, setText("n1", "on b")); got != 2 {
				t.Fatalf("first seq on b: got %d; want 2", got)
			}
			ex := snapshot(t, b, id)
			if len(ex.Nodes) != 1 || string(ex.Nodes[0].Data["text"]) != `"on b"` {
				t.Fatalf("b's snapshot: got %+v; want n1 with b's text", ex.Nodes)
			}
			_, err = a.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", "on a")})
			wantNotOwner(t, "submit on a right after the handoff", err, "")
			time.Sleep(400 * time.Millisecond) // past a's HandoffGrace
			_, err = a.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", "on a")})
			wantNotOwner(t, "submit on a after its grace", err, "node-b")
			wantSeqs(t, e, id, 2)
		})
	}
}

// TestHandoffAnswersNotOwnerUntilItsActorStopped: while a handed-off
// canvas's actor finishes, its requests, those that waited for an older
// actor to stop included, are answered at once with a NotOwnerError
// instead of waiting for a new activation here; once it has stopped and
// HandoffGrace has passed, a request activates the canvas here again.
func TestHandoffAnswersNotOwnerUntilItsActorStopped(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	a, own := e.node(t, "node-a", func(c *Config) {
		c.IdleTimeout = 100 * time.Millisecond
		c.HandoffGrace = 300 * time.Millisecond
	})
	ctx := t.Context()
	mustSubmit(t, a, id, addNode("n1"))

	// The idle actor passivates, and its release of the claim waits:
	// a request that comes meanwhile waits for it to stop.
	open := own.holdReleases()
	waitFor(t, "the idle canvas to passivate", 5*time.Second, func() bool { return !a.Owns(id) })
	waiting := a.SubmitAsync(id, "author-1", "", []canvas.Op{setText("n1", "waited")})
	handedOff := make(chan error, 1)
	go func() { handedOff <- a.Handoff(ctx, id) }()

	quick, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := waiting(quick)
	wantNotOwner(t, "the request waiting for the old actor", err, "")
	_, err = a.Submit(quick, id, "author-1", "", []canvas.Op{setText("n1", "during")})
	wantNotOwner(t, "a request during the handoff", err, "")
	select {
	case err := <-handedOff:
		t.Fatalf("handoff returned %v before its actor gave its claim back", err)
	default:
	}

	open()
	if err := <-handedOff; err != nil {
		t.Fatalf("handoff: %v", err)
	}
	_, err = a.Submit(quick, id, "author-1", "", []canvas.Op{setText("n1", "in its grace")})
	wantNotOwner(t, "a request right after the handoff", err, "")
	time.Sleep(400 * time.Millisecond) // past HandoffGrace
	if got := mustSubmit(t, a, id, setText("n1", "after")); got != 2 {
		t.Fatalf("seq after the handoff: got %d; want 2", got)
	}
	if n := own.claims.Load(); n != 2 {
		t.Fatalf("claims: got %d; want 2 (the activation after the handoff claims again)", n)
	}
	wantSeqs(t, e, id, 2)
}

// TestHandoffWhileClaiming: a canvas handed off while its actor is still
// claiming it answers the requests waiting for the activation with a
// NotOwnerError at once, and its actor stops only once the claim it was
// making is given back.
func TestHandoffWhileClaiming(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	a, own := e.node(t, "node-a", nil)
	ctx := t.Context()

	open := own.holdClaims()
	queued := a.SubmitAsync(id, "author-1", "", []canvas.Op{addNode("n1")})
	waitFor(t, "the activation to take requests", 5*time.Second, func() bool { return a.Owns(id) })
	handedOff := make(chan error, 1)
	go func() { handedOff <- a.Handoff(ctx, id) }()

	quick, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := queued(quick)
	wantNotOwner(t, "the request queued for the activation", err, "")
	select {
	case err := <-handedOff:
		t.Fatalf("handoff returned %v while its actor was still claiming", err)
	case <-time.After(100 * time.Millisecond):
	}

	open()
	if err := <-handedOff; err != nil {
		t.Fatalf("handoff: %v", err)
	}
	if n := own.claims.Load(); n != 1 {
		t.Fatalf("claims: got %d; want 1", n)
	}
	if h := e.leaseHolder(t, id); h != "" {
		t.Fatalf("lease after the handoff: held by %q; want released", h)
	}
	wantSeqs(t, e, id, 0)
}

// TestLostClaimStopsTheActor: when a node's lease is taken from it (here
// deleted from the bucket, as an expiry would), its actor stops taking
// changes without waiting for a request; the other node takes the canvas
// over and nothing is committed twice.
func TestLostClaimStopsTheActor(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	a, _ := e.node(t, "node-a", nil)
	b, _ := e.node(t, "node-b", nil)
	ctx := t.Context()
	mustSubmit(t, a, id, addNode("n1"))

	kv, err := e.js.KeyValue(ctx, natsname.Default().Leases())
	if err != nil {
		t.Fatalf("lease bucket: %v", err)
	}
	if err := kv.Delete(ctx, id); err != nil {
		t.Fatalf("delete lease: %v", err)
	}
	// a's next renewal finds the key gone: the lease is lost.
	waitFor(t, "a to stop owning the canvas", 3*testLeaseTTL, func() bool { return !a.Owns(id) })
	if got := mustSubmit(t, b, id, setText("n1", "on b")); got != 2 {
		t.Fatalf("first seq on b: got %d; want 2", got)
	}
	_, err = a.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", "on a")})
	wantNotOwner(t, "submit on a", err, "node-b")
	wantSeqs(t, e, id, 2)
	if got := e.leaseHolder(t, id); got != "node-b" {
		t.Fatalf("lease holder: got %q; want node-b", got)
	}
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"a's claims won", counter(t, a.metrics.claims.WithLabelValues("won")), 1},
		{"a's claims held elsewhere", counter(t, a.metrics.claims.WithLabelValues("held_elsewhere")), 1},
		{"a's ownership lost", counter(t, a.metrics.lost.WithLabelValues("claim")), 1},
		{"b's claims won", counter(t, b.metrics.claims.WithLabelValues("won")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.what, c.got, c.want)
		}
	}
}

// TestLapsedClaimSendsNothing: an actor whose claim has lapsed on its
// node's clock sends no append, even before it has heard of the lapse:
// the batch is refused with ErrUnavailable, the journal gets nothing,
// and the claim is given back. The lease that is no longer renewed
// lapses the same way by itself.
func TestLapsedClaimSendsNothing(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	a, own := e.node(t, "node-a", nil)
	ctx := t.Context()
	mustSubmit(t, a, id, addNode("n1"))

	own.lastClaim().lapsed.Store(true)
	_, err := a.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", "lapsed")})
	if !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("submit with a lapsed claim: got %v; want ErrUnavailable", err)
	}
	wantSeqs(t, e, id, 1)
	waitFor(t, "the lapsed claim to be given back", 5*time.Second, func() bool { return e.leaseHolder(t, id) == "" })

	// A new activation claims again; its lease, no longer renewed,
	// lapses on its own.
	if got := mustSubmit(t, a, id, setText("n1", "claimed again")); got != 2 {
		t.Fatalf("seq after claiming again: got %d; want 2", got)
	}
	own.lastClaim().Stop()
	waitFor(t, "the unrenewed lease to stop the actor", 3*testLeaseTTL, func() bool { return !a.Owns(id) })
	wantSeqs(t, e, id, 2)
}

// TestRestartClaimsAgain: an actor restarted after a panic gives its claim
// back and claims again before it loads, and the other node still sees
// the canvas owned.
func TestRestartClaimsAgain(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	a, own := e.node(t, "node-a", nil)
	b, _ := e.node(t, "node-b", nil)
	ctx := t.Context()
	mustSubmit(t, a, id, addNode("n1"))
	first := own.lastClaim()

	a.send(&crash{Canvas: id})
	if got := mustSubmit(t, a, id, setText("n1", "after the restart")); got != 2 {
		t.Fatalf("seq after the restart: got %d; want 2", got)
	}
	if n := own.claims.Load(); n != 2 {
		t.Fatalf("claims: got %d; want 2", n)
	}
	if first.Valid() {
		t.Fatalf("the first incarnation's claim is still valid after the restart")
	}
	_, err := b.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", "on b")})
	wantNotOwner(t, "submit on b", err, "node-a")
	wantSeqs(t, e, id, 2)
}

// TestEveryStopGivesTheClaimBack: an activation that finds no canvas, a
// forgotten canvas and a shut-down node each leave the canvas's lease
// free for another node.
func TestEveryStopGivesTheClaimBack(t *testing.T) {
	e := newEnv(t)
	a, own := e.node(t, "node-a", nil)
	ctx := t.Context()
	free := func(what, id string) {
		t.Helper()
		waitFor(t, what, 5*time.Second, func() bool { return e.leaseHolder(t, id) == "" })
	}

	if _, err := a.Snapshot(ctx, "missing"); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("snapshot of a missing canvas: got %v; want ErrNotFound", err)
	}
	if n := own.claims.Load(); n != 1 {
		t.Fatalf("claims: got %d; want 1 (a canvas is claimed before it is looked up)", n)
	}
	free("the missing canvas's lease to be given back", "missing")

	gone := e.canvas("gone")
	mustSubmit(t, a, gone, addNode("n1"))
	if err := e.store.DeleteCanvas(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if err := a.Forget(ctx, gone); err != nil {
		t.Fatalf("forget: %v", err)
	}
	free("the forgotten canvas's lease to be given back", gone)

	id := e.canvas("c1")
	mustSubmit(t, a, id, addNode("n1"))
	if h := e.leaseHolder(t, id); h != "node-a" {
		t.Fatalf("lease holder: got %q; want node-a", h)
	}
	shutdown(t, a)
	if h := e.leaseHolder(t, id); h != "" {
		t.Fatalf("lease after shutdown: held by %q; want released before Shutdown returns", h)
	}
	b, _ := e.node(t, "node-b", nil)
	if got := mustSubmit(t, b, id, setText("n1", "on b")); got != 2 {
		t.Fatalf("first seq on b: got %d; want 2", got)
	}
	wantSeqs(t, e, id, 2)
}

// counter is the value of one counter of a CounterVec.
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}
