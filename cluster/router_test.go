package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/testkit"
)

// liveNodes is the list a test's routers take as Live; the test changes it.
type liveNodes struct {
	mu    sync.Mutex
	names []string
}

func (l *liveNodes) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// testRouter starts a router for node on its own connection to ns, with
// local (nil: a node that owns no canvas), serving when it has local.
func testRouter(t *testing.T, ns *server.Server, node string, local *memCanvases, live *liveNodes, tune func(*RouterConfig)) *Router {
	t.Helper()
	nc, js := testkit.Connect(t, ns)
	cfg := RouterConfig{Conn: nc, Node: node, Leases: openLeases(t, js), Live: live.get,
		HoldFor: 3 * time.Second, RequestTimeout: 2 * time.Second, Registerer: prometheus.NewRegistry()}
	if local != nil {
		cfg.Local = local
	}
	if tune != nil {
		tune(&cfg)
	}
	r, err := NewRouter(cfg)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	if err := r.Serve(t.Context()); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown of %s: %v", node, err)
		}
	})
	return r
}

// canvasOwnedBy returns a canvas id that placement gives to node among
// nodes, unlike every id before it (skip of them).
func canvasOwnedBy(t *testing.T, node string, nodes []string, skip int) string {
	t.Helper()
	for i := range 10000 {
		id := fmt.Sprintf("%s-canvas-%d", t.Name(), i)
		if Owner(id, nodes) == node {
			if skip == 0 {
				return strings.ReplaceAll(id, "/", "-")
			}
			skip--
		}
	}
	t.Fatalf("no canvas id for %s", node)
	return ""
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		if d.Counter != nil {
			sum += d.Counter.GetValue()
		}
	}
	return sum
}

func servedCount(t *testing.T, r *Router, op string) float64 {
	return counterValue(t, r.metrics.served.WithLabelValues(op))
}

func retryCount(t *testing.T, r *Router, reason string) float64 {
	return counterValue(t, r.metrics.retries.WithLabelValues(reason))
}

func nodeOp(id string) []canvas.Op {
	return []canvas.Op{{Op: "add_node", ID: id, Kind: "note", Data: map[string]json.RawMessage{"text": json.RawMessage(`"<b>&</b>"`)}}}
}

func TestRouterRoundTrip(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-a", "node-b"}}
	memA, memB := newMemCanvases(), newMemCanvases()
	a := testRouter(t, ns, "node-a", memA, live, nil)
	b := testRouter(t, ns, "node-b", memB, live, nil)
	ctx := t.Context()
	id := canvasOwnedBy(t, "node-b", live.names, 0)

	seq, err := a.Submit(ctx, id, "ann", "c1", nodeOp("n1"))
	if err != nil || seq != 1 {
		t.Fatalf("Submit = %d, %v; want 1, nil", seq, err)
	}
	if seq, err := a.SubmitAsync(id, "ann", "c2", nodeOp("n2"))(ctx); err != nil || seq != 2 {
		t.Fatalf("SubmitAsync = %d, %v; want 2, nil", seq, err)
	}
	if got := memB.committed(id); len(got) != 2 {
		t.Fatalf("node-b committed %v; want 2 batches", got)
	}
	if got := memA.committed(id); got != nil {
		t.Fatalf("node-a committed %v; want nothing", got)
	}

	ex, err := a.Snapshot(ctx, id)
	want, _ := memB.Snapshot(ctx, id)
	if err != nil || !reflect.DeepEqual(ex, want) {
		t.Fatalf("Snapshot = %+v, %v; want %+v", ex, err, want)
	}
	cu, err := a.Since(ctx, id, 1)
	wantCU, _ := memB.Since(ctx, id, 1)
	if err != nil || !reflect.DeepEqual(cu, wantCU) {
		t.Fatalf("Since = %+v, %v; want %+v", cu, err, wantCU)
	}
	bs, cur, err := a.History(ctx, id, 0, 10)
	wantBS, _, _ := memB.History(ctx, id, 0, 10)
	if err != nil || cur != 2 || !reflect.DeepEqual(bs, wantBS) {
		t.Fatalf("History = %q, %d, %v; want %q, 2, nil", bs, cur, err, wantBS)
	}
	memB.trim(id, 1)
	cu, err = a.Since(ctx, id, 0)
	if err != nil || cu.Snapshot == nil || cu.Snapshot.Seq != 2 || cu.Batches != nil {
		t.Fatalf("Since a trimmed seq = %+v, %v; want a snapshot at seq 2", cu, err)
	}
	if _, cur, err := a.History(ctx, id, 0, 10); !errors.Is(err, canvases.ErrHistoryTrimmed) || cur != 2 {
		t.Fatalf("History of trimmed = %d, %v; want 2, ErrHistoryTrimmed", cur, err)
	}
	res := canvases.AIResult{Status: "done", Text: "hi", InputTokens: 3, OutputTokens: 4}
	if err := a.FinishAIRun(ctx, id, "card", "run-1", res); err != nil {
		t.Fatalf("FinishAIRun: %v", err)
	}
	if got, want := memB.finishedRuns(), id+"/card/run-1/done/hi/3/4"; len(got) != 1 || got[0] != want {
		t.Fatalf("node-b finished %v; want [%s]", got, want)
	}
	if err := a.Forget(ctx, id); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if _, err := memB.Snapshot(ctx, id); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("node-b after Forget: %v; want ErrNotFound", err)
	}
	for _, op := range []string{opSubmit, opSnapshot, opSince, opHistory, opForget, opFinishAIRun} {
		if n := servedCount(t, b, op); n == 0 {
			t.Errorf("node-b served %s %v times; want some", op, n)
		}
	}

	// A canvas of node-a is served by node-a's Local, with no request.
	own := canvasOwnedBy(t, "node-a", live.names, 0)
	if seq, err := a.Submit(ctx, own, "ann", "", nodeOp("x")); err != nil || seq != 1 {
		t.Fatalf("local Submit = %d, %v; want 1, nil", seq, err)
	}
	if got := memA.committed(own); len(got) != 1 {
		t.Fatalf("node-a committed %v; want 1 batch", got)
	}
	if n := servedCount(t, a, opSubmit); n != 0 {
		t.Fatalf("node-a served %v submits; want 0 (a local call takes no request)", n)
	}
}

// TestRouterErrorsRoundTrip: each error of Local reaches the caller on
// another node as errors.Is and errors.As see it on the owner.
func TestRouterErrorsRoundTrip(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	g := testRouter(t, ns, "node-g", nil, live, func(c *RouterConfig) { c.HoldFor = 300 * time.Millisecond })
	testRouter(t, ns, "node-b", memB, live, nil)
	ctx := t.Context()
	id := "errors"
	if _, err := g.Submit(ctx, id, "ann", "", nodeOp("n")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		op   string
		err  error
		call func() error
	}{
		{opSubmit, &canvas.OpError{Code: "invalid_op", Message: "no such node", Index: 2}, func() error {
			_, err := g.Submit(ctx, id, "ann", "", nodeOp("n"))
			return err
		}},
		{opSubmit, &canvas.OpError{Code: "batch_too_large", Message: "too many", Index: -1}, func() error {
			_, err := g.SubmitAsync(id, "ann", "", nodeOp("n"))(ctx)
			return err
		}},
		{opSubmit, fmt.Errorf("actors: canvas %s: %w", id, canvases.ErrOutcomeUnknown), func() error {
			_, err := g.Submit(ctx, id, "ann", "", nodeOp("n"))
			return err
		}},
		{opSnapshot, fmt.Errorf("actors: load %s: %w", id, canvases.ErrNotFound), func() error {
			_, err := g.Snapshot(ctx, id)
			return err
		}},
		{opHistory, canvases.ErrHistoryTrimmed, func() error {
			_, _, err := g.History(ctx, id, 0, 1)
			return err
		}},
		{opSince, fmt.Errorf("wrapped: %w", canvases.ErrNotFound), func() error {
			_, err := g.Since(ctx, id, 0)
			return err
		}},
		{opFinishAIRun, fmt.Errorf("actors: run r: %w", canvases.ErrStaleRun), func() error {
			return g.FinishAIRun(ctx, id, "card", "r", canvases.AIResult{Status: "done"})
		}},
		{opForget, errors.New("journal: delete: disk on fire"), func() error {
			return g.Forget(ctx, id)
		}},
	}
	for _, tc := range cases {
		memB.inject(tc.op, tc.err)
		got := tc.call()
		checkSameError(t, tc.op, got, tc.err)
	}
	// ErrUnavailable is tried again until HoldFor, then returned.
	memB.inject(opSnapshot, fmt.Errorf("actors: %w: loading", canvases.ErrUnavailable), fmt.Errorf("actors: %w: loading", canvases.ErrUnavailable),
		fmt.Errorf("actors: %w: loading", canvases.ErrUnavailable), fmt.Errorf("actors: %w: loading", canvases.ErrUnavailable))
	_, err := g.Snapshot(ctx, id)
	if !errors.Is(err, canvases.ErrUnavailable) || errors.Is(err, canvases.ErrOutcomeUnknown) {
		t.Fatalf("Snapshot while unavailable: %v; want ErrUnavailable", err)
	}
}

// checkSameError fails unless got matches every error of package
// canvases, and the OpError, that want matches, and has want's text.
func checkSameError(t *testing.T, what string, got, want error) {
	t.Helper()
	for _, s := range sentinelKinds {
		if errors.Is(got, s.err) != errors.Is(want, s.err) {
			t.Errorf("%s: errors.Is(%v, %s) = %v; want %v", what, got, s.kind, errors.Is(got, s.err), errors.Is(want, s.err))
		}
	}
	var gotOp, wantOp *canvas.OpError
	if errors.As(got, &gotOp) != errors.As(want, &wantOp) || (wantOp != nil && *gotOp != *wantOp) {
		t.Errorf("%s: OpError %+v; want %+v", what, gotOp, wantOp)
	}
	var gotNO, wantNO *canvases.NotOwnerError
	if errors.As(got, &gotNO) != errors.As(want, &wantNO) || (wantNO != nil && *gotNO != *wantNO) {
		t.Errorf("%s: NotOwnerError %+v; want %+v", what, gotNO, wantNO)
	}
	if !strings.Contains(got.Error(), want.Error()) {
		t.Errorf("%s: text %q; want it to have %q", what, got, want)
	}
	if _, ok := canvases.APIError(want); ok {
		g, _ := canvases.APIError(got)
		w, _ := canvases.APIError(want)
		if *g != *w {
			t.Errorf("%s: API error %+v; want %+v", what, g, w)
		}
	}
}

func TestWireErrorsRoundTrip(t *testing.T) {
	for _, want := range []error{
		&canvas.OpError{Code: "invalid_op", Message: "bad", Index: 0},
		&canvas.OpError{Code: "canvas_full", Message: "full", Index: -1},
		&canvases.NotOwnerError{CanvasID: "c", Holder: "node-x"},
		&canvases.NotOwnerError{CanvasID: "c"},
		fmt.Errorf("actors: claim c: %w", &canvases.NotOwnerError{CanvasID: "c", Holder: "node-y"}),
		canvases.ErrNotFound, canvases.ErrUnavailable, canvases.ErrOutcomeUnknown, canvases.ErrHistoryTrimmed, canvases.ErrStaleRun,
		fmt.Errorf("%w: no answer: %w", canvases.ErrOutcomeUnknown, context.DeadlineExceeded),
	} {
		got := decodeError("c", "node-b", encodeError(want))
		checkSameError(t, want.Error(), got, want)
	}
}

func TestRouterRedirects(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-a", "node-b"}}
	memA, memB := newMemCanvases(), newMemCanvases()
	memA.setOwns(false)
	a := testRouter(t, ns, "node-a", memA, live, nil)
	b := testRouter(t, ns, "node-b", memB, live, nil)
	g := testRouter(t, ns, "node-g", nil, live, nil)
	ctx := t.Context()

	// Placement prefers node-a, but node-b holds the lease: node-a
	// answers NotOwnerError, and the batch goes on to node-b.
	id := canvasOwnedBy(t, "node-a", live.names, 0)
	lease, err := b.cfg.Leases.Claim(ctx, id, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Stop()
	if seq, err := g.SubmitAsync(id, "ann", "", nodeOp("n"))(ctx); err != nil || seq != 1 {
		t.Fatalf("SubmitAsync = %d, %v; want 1, nil", seq, err)
	}
	if memA.callCount(opSubmit) != 0 || len(memB.committed(id)) != 1 {
		t.Fatalf("node-a took %d submits, node-b committed %v; want 0 and 1", memA.callCount(opSubmit), memB.committed(id))
	}
	if n := retryCount(t, g, "not_owner"); n != 1 {
		t.Fatalf("redirects %v; want 1", n)
	}

	// Local itself may answer NotOwnerError (its claim failed): the call
	// follows it.
	memA.setOwns(true)
	memB.inject(opSnapshot, fmt.Errorf("actors: claim: %w", &canvases.NotOwnerError{CanvasID: id, Holder: "node-a"}))
	memA.mu.Lock()
	memA.commitLocked(id, "zed", "", nil)
	memA.mu.Unlock()
	ex, err := g.Snapshot(ctx, id)
	if err != nil || ex.Seq != 1 || memA.callCount(opSnapshot) != 1 {
		t.Fatalf("Snapshot = seq %d, %v, node-a snapshots %d; want node-a's seq 1", ex.Seq, err, memA.callCount(opSnapshot))
	}

	// A batch this node sends its own Local follows a NotOwnerError too.
	memA.inject(opSubmit, &canvases.NotOwnerError{CanvasID: id, Holder: "node-b"})
	if _, err := a.SubmitAsync(id, "bob", "", nodeOp("m"))(ctx); err != nil || len(memB.committed(id)) != 2 {
		t.Fatalf("SubmitAsync from node-a: %v, node-b committed %v; want node-b's second batch", err, memB.committed(id))
	}

	// A node that no live actor owns a canvas on, whose lease is free,
	// sends the call to the node placement prefers instead of taking it.
	free := canvasOwnedBy(t, "node-a", live.names, 1)
	memB.setOwns(false)
	g.remember(free, "node-b")
	memA.mu.Lock()
	memA.commitLocked(free, "zed", "", nil)
	memA.mu.Unlock()
	if _, err := g.Snapshot(ctx, free); err != nil || memB.callCount(opSnapshot) != 1 || memA.callCount(opSnapshot) != 2 {
		t.Fatalf("Snapshot of a free canvas via node-b: %v, node-b snapshots %d, node-a %d; want node-a's",
			err, memB.callCount(opSnapshot), memA.callCount(opSnapshot))
	}
}

func TestRouterWaitsForOwner(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	g := testRouter(t, ns, "node-g", nil, live, nil)
	memB := newMemCanvases()
	nc, js := testkit.Connect(t, ns)
	b, err := NewRouter(RouterConfig{Conn: nc, Node: "node-b", Local: memB, Leases: openLeases(t, js), Live: live.get})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	go func() {
		time.Sleep(300 * time.Millisecond)
		if err := b.Serve(context.Background()); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	start := time.Now()
	seq, err := g.Submit(t.Context(), "late", "ann", "", nodeOp("n"))
	if err != nil || seq != 1 {
		t.Fatalf("Submit = %d, %v; want 1, nil", seq, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Submit took %v; want about 300ms", d)
	}
	if n := retryCount(t, g, "no_responders"); n == 0 {
		t.Fatal("no retry counted for no responders")
	}
}

func TestRouterGivesUpAfterHoldFor(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	g := testRouter(t, ns, "node-g", nil, live, func(c *RouterConfig) { c.HoldFor = 500 * time.Millisecond })
	for _, call := range []func() error{
		func() error { _, err := g.Snapshot(t.Context(), "nobody"); return err },
		func() error { _, err := g.Submit(t.Context(), "nobody", "ann", "", nodeOp("n")); return err },
		func() error { _, err := g.SubmitAsync("nobody", "ann", "cb", nodeOp("n"))(t.Context()); return err },
	} {
		start := time.Now()
		err := call()
		d := time.Since(start)
		if !errors.Is(err, canvases.ErrUnavailable) || errors.Is(err, canvases.ErrOutcomeUnknown) {
			t.Fatalf("err %v; want ErrUnavailable (nothing reached an owner)", err)
		}
		if d < 200*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("gave up after %v; want within HoldFor 500ms", d)
		}
	}
}

func TestRouterUnknownOutcome(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	g := testRouter(t, ns, "node-g", nil, live, func(c *RouterConfig) { c.RequestTimeout = 200 * time.Millisecond })
	testRouter(t, ns, "node-b", memB, live, func(c *RouterConfig) { c.RequestTimeout = time.Second })
	ctx := t.Context()
	lost := fmt.Errorf("actors: append: %w", canvases.ErrOutcomeUnknown)

	for _, tc := range []struct {
		name string
		lose func()
	}{
		{"owner answers unknown", func() { memB.inject(opSubmit, lost) }},
		{"no answer in time", func() { memB.hangNext(opSubmit, 1) }},
	} {
		id := strings.ReplaceAll(tc.name, " ", "-")
		calls := memB.callCount(opSubmit)
		tc.lose()
		seq, err := g.Submit(ctx, id, "ann", "cb-1", nodeOp("n"))
		if err != nil || seq != 1 {
			t.Fatalf("%s, with a client batch id: %d, %v; want 1, nil", tc.name, seq, err)
		}
		if n := memB.callCount(opSubmit) - calls; n != 2 || len(memB.committed(id)) != 1 {
			t.Fatalf("%s: %d attempts, committed %v; want 2 attempts, 1 batch", tc.name, n, memB.committed(id))
		}
		calls = memB.callCount(opSubmit)
		tc.lose()
		_, err = g.SubmitAsync(id, "ann", "", nodeOp("m"))(ctx)
		if !errors.Is(err, canvases.ErrOutcomeUnknown) {
			t.Fatalf("%s, without a client batch id: %v; want ErrOutcomeUnknown", tc.name, err)
		}
		if n := memB.callCount(opSubmit) - calls; n != 1 {
			t.Fatalf("%s, without a client batch id: %d attempts; want 1", tc.name, n)
		}
	}
}

func TestRouterHonoursCtx(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	b := testRouter(t, ns, "node-b", memB, live, nil)
	g := testRouter(t, ns, "node-g", nil, live, nil)
	memB.Submit(t.Context(), "c", "ann", "", nil)

	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := g.Snapshot(done, "c"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Snapshot with an ended ctx: %v; want context.Canceled", err)
	}
	if _, err := g.Submit(done, "c", "ann", "", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with an ended ctx: %v; want context.Canceled", err)
	}
	if n := servedCount(t, b, opSnapshot) + servedCount(t, b, opSubmit); n != 0 {
		t.Fatalf("node-b served %v calls with an ended ctx; want 0", n)
	}

	memB.hangNext(opSnapshot, 1)
	memB.hangNext(opSubmit, 1)
	short, cancel2 := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if _, err := g.Snapshot(short, "c"); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("Snapshot past ctx: %v; want DeadlineExceeded and ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Snapshot returned %v after its ctx ended", d)
	}
	short2, cancel3 := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel3()
	if _, err := g.Submit(short2, "c", "ann", "cb", nil); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, canvases.ErrOutcomeUnknown) {
		t.Fatalf("Submit past ctx: %v; want DeadlineExceeded and ErrOutcomeUnknown", err)
	}
}

// TestRouterShutdownAnswersInFlight: Shutdown returns once the calls it
// took from other nodes are answered, and then takes no more.
func TestRouterShutdownAnswersInFlight(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	nc, js := testkit.Connect(t, ns)
	b, err := NewRouter(RouterConfig{Conn: nc, Node: "node-b", Local: memB, Leases: openLeases(t, js), Live: live.get,
		RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := testRouter(t, ns, "node-g", nil, live, func(c *RouterConfig) { c.HoldFor = 300 * time.Millisecond })
	memB.hangNext(opSnapshot, 1)
	memB.Submit(t.Context(), "c", "ann", "", nil)
	answered := make(chan error, 1)
	go func() {
		_, err := g.Snapshot(t.Context(), "c")
		answered <- err
	}()
	for servedCount(t, b, opSnapshot) == 0 && memB.callCount(opSnapshot) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("Shutdown returned after %v, before the call in flight was answered", d)
	}
	if n := servedCount(t, b, opSnapshot); n != 1 {
		t.Fatalf("served %v snapshots; want the one in flight answered", n)
	}
	if err := <-answered; !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("Snapshot: %v; want ErrUnavailable (answered, then no node)", err)
	}
	if memB.callCount(opSnapshot) != 1 {
		t.Fatalf("node-b took %d snapshots; want none after Shutdown", memB.callCount(opSnapshot))
	}
	if _, err := b.Snapshot(t.Context(), "c"); !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("Snapshot on a router shut down: %v; want ErrUnavailable", err)
	}
}

func TestServeRefusesOtherVersions(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	b := testRouter(t, ns, "node-b", memB, live, nil)
	nc, _ := testkit.Connect(t, ns)
	for _, body := range []string{`{"v": 2, "op": "snapshot", "canvas": "c"}`, `not json`, `{"v": 1, "op": "paint", "canvas": "c"}`} {
		msg, err := nc.Request(b.cfg.Names.ClusterNode("node-b"), []byte(body), 2*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var rep wireReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Error == nil || rep.Error.Kind != kindBadRequest {
			t.Fatalf("%s: answer %s, %v; want a bad_request error", body, msg.Data, err)
		}
	}
	if n := memB.callCount(opSnapshot); n != 0 {
		t.Fatalf("node-b took %d snapshots; want none", n)
	}
	if n := servedCount(t, b, kindBadRequest); n != 3 {
		t.Fatalf("served %v bad requests; want 3", n)
	}
}
