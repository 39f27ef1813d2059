package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// editor is one client of TestConcurrentEditorsConverge: it pipelines its
// batches and records everything it receives, on goroutines of its own (so
// it reports failures as errors, not through t).
type editor struct {
	i     int
	user  string
	conn  *websocket.Conn
	state *canvas.State
	acks  map[string]uint64      // cbid → seq
	seen  map[uint64]batchOrigin // seq → who sent it, as this client saw it
	errs  []string
}

type batchOrigin struct{ author, cbid string }

func (e *editor) failf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf("client %d: ", e.i)+fmt.Sprintf(format, args...))
}

// editOps are the ops of batch k of client i: every client updates the same
// three nodes, the same properties and others of its own.
func editOps(i, k int) []map[string]any {
	tag := map[string]any{"op": "node.update", "id": "n3", "set": map[string]any{"data.tag": fmt.Sprintf("%d-%d", i, k)}}
	if k%2 == 1 {
		tag = map[string]any{"op": "node.update", "id": "n3", "unset": []string{"data.tag"}, "set": map[string]any{"z": i*100 + k}}
	}
	return []map[string]any{
		{"op": "node.update", "id": "n1", "set": map[string]any{"data.text": fmt.Sprintf("c%d b%d", i, k), "x": i*1000 + k}},
		{"op": "node.update", "id": "n2", "set": map[string]any{"y": k, fmt.Sprintf("data.by%d", i): k}},
		tag,
	}
}

// read receives frames until it has every ack of its own batches and every
// change up to last, applying each change to its local state.
func (e *editor) read(batches int, last uint64, deadline time.Time) {
	for len(e.acks) < batches || e.state.Seq < last {
		_ = e.conn.SetReadDeadline(deadline)
		_, data, err := e.conn.ReadMessage()
		if err != nil {
			e.failf("read after %d acks at seq %d: %v", len(e.acks), e.state.Seq, err)
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			e.failf("frame %s: %v", data, err)
			return
		}
		switch f.Type {
		case "ack":
			if _, dup := e.acks[f.CBID]; dup {
				e.failf("second ack for %s", f.CBID)
				return
			}
			e.acks[f.CBID] = f.Seq
		case "changes":
			f.Raw = data
			cs, err := f.committed()
			if err != nil {
				e.failf("%v", err)
				return
			}
			for _, c := range cs {
				if c.Seq != e.state.Seq+1 {
					e.failf("changes: got seq %d; want %d (a gap or a duplicate)", c.Seq, e.state.Seq+1)
					return
				}
				if _, err := e.state.Apply(c.Batch()); err != nil {
					e.failf("apply seq %d: %v", c.Seq, err)
					return
				}
				e.seen[c.Seq] = batchOrigin{c.Author, c.ClientBatchID}
			}
		default:
			e.failf("unexpected frame %s", data)
			return
		}
	}
}

// TestConcurrentEditorsConverge is guarantee 3: ten clients edit the same
// nodes at once, pipelining their batches; each sees every committed seq
// exactly once and in order, and all of them, applying what they received
// to the snapshot they joined with, end with the same canvas as a fresh
// join.
func TestConcurrentEditorsConverge(t *testing.T) {
	const clients, batches = 10, 30
	s := newStack(t, nil, nil)
	ownerID, ownerTok := s.user("owner")
	ids, toks := []string{ownerID}, []string{ownerTok}
	members := map[string]store.Role{}
	for i := 1; i < clients; i++ {
		id, tok := s.user(fmt.Sprintf("e%d", i))
		ids, toks = append(ids, id), append(toks, tok)
		members[id] = store.RoleEditor
	}
	cid := s.canvas(ownerID, members)
	base := s.commit(cid, ownerID, "seed", addNodeOp("n1"), addNodeOp("n2"), addNodeOp("n3"))
	last := base + clients*batches

	eds := make([]*editor, clients)
	for i := range eds {
		c := s.dial(toks[i])
		f := c.join(cid, nil)
		if f.Seq != base || f.snapshot() == nil {
			t.Fatalf("client %d joined: got seq %d (snapshot %t); want seq %d with a snapshot", i, f.Seq, f.snapshot() != nil, base)
		}
		eds[i] = &editor{i: i, user: ids[i], conn: c.conn, state: stateFrom(t, f.snapshot()),
			acks: map[string]uint64{}, seen: map[uint64]batchOrigin{}}
	}

	deadline := time.Now().Add(30 * time.Second)
	start := make(chan struct{})
	var wg sync.WaitGroup
	sendErrs := make([]error, clients)
	for i, e := range eds {
		wg.Add(2)
		go func() { defer wg.Done(); e.read(batches, last, deadline) }()
		go func() {
			defer wg.Done()
			<-start
			for k := range batches {
				frame := map[string]any{"type": "ops", "canvas": cid, "cbid": fmt.Sprintf("c%d-%d", i, k), "ops": editOps(i, k)}
				if err := e.conn.WriteJSON(frame); err != nil {
					sendErrs[i] = err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, e := range eds {
		if sendErrs[i] != nil {
			t.Errorf("client %d: send: %v", i, sendErrs[i])
		}
		for _, msg := range e.errs {
			t.Error(msg)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, e := range eds {
		// The batches of one connection commit in the order it sent them,
		// and every client saw each of them with its author and cbid.
		prev := base
		for k := range batches {
			cbid := fmt.Sprintf("c%d-%d", e.i, k)
			seq := e.acks[cbid]
			if seq <= prev {
				t.Errorf("client %d: batch %s: got seq %d; want more than %d (the seq of its previous batch)", e.i, cbid, seq, prev)
			}
			prev = seq
			for _, other := range eds {
				if got, want := other.seen[seq], (batchOrigin{e.user, cbid}); got != want {
					t.Errorf("client %d saw seq %d as %+v; want %+v", other.i, seq, got, want)
				}
			}
		}
	}

	want := s.dial(ownerTok).join(cid, nil).snapshot()
	for _, e := range eds {
		if got := mustJSON(e.state.Export()); !bytes.Equal(got, want) {
			t.Errorf("client %d's canvas:\n got %s\nwant %s (a fresh join's snapshot)", e.i, got, want)
		}
	}
	var fresh struct{ Seq uint64 }
	_ = json.Unmarshal(want, &fresh)
	if fresh.Seq != last {
		t.Errorf("snapshot seq: got %d; want %d", fresh.Seq, last)
	}
}

// TestRejoinWithSince: a client that drops and rejoins with since=N receives
// exactly the batches after N (no gap, no duplicate), then live changes.
func TestRejoinWithSince(t *testing.T) {
	s := newStack(t, nil, nil)
	aID, _ := s.user("a")
	bID, bTok := s.user("b")
	cid := s.canvas(aID, map[string]store.Role{bID: store.RoleEditor})
	b := s.dial(bTok)
	b.join(cid, nil)
	s.commit(cid, aID, "a0", addNodeOp("n1"))
	for i := range 2 {
		s.commit(cid, aID, fmt.Sprintf("a%d", i+1), setTextOp("n1", fmt.Sprint(i)))
	}
	b.changes(0, 3)
	seen := uint64(3)
	if err := b.conn.Close(); err != nil {
		t.Fatal(err)
	}

	var head uint64
	for i := range 5 {
		head = s.commit(cid, aID, fmt.Sprintf("m%d", i), setTextOp("n1", fmt.Sprintf("missed %d", i)))
	}
	b = s.dial(bTok)
	f := b.join(cid, &seen)
	if f.Seq != head || f.snapshot() != nil {
		t.Fatalf("joined with since=%d: got seq %d, snapshot %t; want seq %d, no snapshot", seen, f.Seq, f.snapshot() != nil, head)
	}
	got := b.changes(seen, head)
	for i, c := range got {
		if want := fmt.Sprintf("m%d", i); c.ClientBatchID != want {
			t.Errorf("catch-up batch %d: got cbid %q; want %q", c.Seq, c.ClientBatchID, want)
		}
	}
	live := s.commit(cid, aID, "live", setTextOp("n1", "live"))
	if c := b.changes(head, live); c[0].ClientBatchID != "live" {
		t.Fatalf("live change: got cbid %q; want live", c[0].ClientBatchID)
	}
	b.quiet("after-live")

	// Joining again at the head: no snapshot, no changes, then live ones.
	b2 := s.dial(bTok)
	if f := b2.join(cid, &live); f.Seq != live || f.snapshot() != nil {
		t.Fatalf("joined with since=head: got seq %d, snapshot %t; want seq %d, no snapshot", f.Seq, f.snapshot() != nil, live)
	}
	b2.quiet("at-head")
	next := s.commit(cid, aID, "next", setTextOp("n1", "next"))
	b2.changes(live, next)
}

// TestRejoinSinceOlderThanHistory: when since is older than the history the
// canvas keeps (or newer than its head), the joined frame carries a snapshot
// at the head, and live changes follow it.
func TestRejoinSinceOlderThanHistory(t *testing.T) {
	const history = 5
	s := newStack(t, nil, func(c *actors.Config) { c.History = history })
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	s.commit(cid, aID, "add", addNodeOp("n1"))
	var head uint64
	for i := range 11 {
		head = s.commit(cid, aID, fmt.Sprint(i), setTextOp("n1", fmt.Sprint(i)))
	}
	for _, tc := range []struct {
		since    uint64
		snapshot bool
	}{
		{head - history, false}, // the oldest since the history answers
		{head - history - 1, true},
		{0, true},
		{head + 10, true}, // a seq the canvas never reached
	} {
		t.Run(fmt.Sprintf("since=%d", tc.since), func(t *testing.T) {
			c := s.dial(aTok)
			f := c.join(cid, &tc.since)
			if f.Seq != head {
				t.Fatalf("joined: got seq %d; want the head %d", f.Seq, head)
			}
			if !tc.snapshot {
				if f.snapshot() != nil {
					t.Fatalf("joined: got a snapshot; want the %d batches after %d", head-tc.since, tc.since)
				}
				c.changes(tc.since, head)
				c.quiet("caught-up")
				return
			}
			snap := f.snapshot()
			if snap == nil {
				t.Fatalf("joined with since=%d: got no snapshot; want one at seq %d", tc.since, head)
			}
			if want := s.snapshotJSON(cid); !bytes.Equal(snap, want) {
				t.Fatalf("snapshot:\n got %s\nwant %s", snap, want)
			}
			c.quiet("no-batches")
		})
	}
	c := s.dial(aTok)
	old := uint64(1)
	c.join(cid, &old)
	live := s.commit(cid, aID, "live", setTextOp("n1", "live"))
	c.changes(head, live)
}

// follow reads changes after seq `after` until `last`, checking that they are
// contiguous and applying them to st when it is not nil. It runs on a
// goroutine of its own and returns what went wrong.
func follow(conn *websocket.Conn, after, last uint64, st *canvas.State, deadline time.Time) error {
	for after < last {
		_ = conn.SetReadDeadline(deadline)
		_, data, err := conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("at seq %d of %d: %w", after, last, err)
		}
		f := frame{Raw: data}
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		switch f.Type {
		case "changes":
			cs, err := f.committed()
			if err != nil {
				return err
			}
			for _, c := range cs {
				if c.Seq != after+1 {
					return fmt.Errorf("changes: got seq %d; want %d", c.Seq, after+1)
				}
				after = c.Seq
				if st == nil {
					continue
				}
				if _, err := st.Apply(c.Batch()); err != nil {
					return fmt.Errorf("apply seq %d: %w", c.Seq, err)
				}
			}
		case "presence", "presence.leave":
		default:
			return fmt.Errorf("unexpected frame %s", data)
		}
	}
	return nil
}

// TestJoinWhileCanvasChanges: clients that join (with a snapshot, or with
// since) while batches are being committed, several per journal record, get
// every change after their starting point exactly once: none lost between
// the catch-up and the live changes, none twice.
func TestJoinWhileCanvasChanges(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testJoinWhileCanvasChanges(t, 0) })
	// The catch-up answer is held back while changes keep coming, so the
	// room is ahead of it at every join and must make up the difference
	// from the changes it keeps.
	t.Run("catch-up delayed", func(t *testing.T) { testJoinWhileCanvasChanges(t, 15*time.Millisecond) })
}

// delayedCanvases answers catch-up requests late.
type delayedCanvases struct {
	Canvases
	delay time.Duration
}

func (d delayedCanvases) Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error) {
	cu, err := d.Canvases.Since(ctx, canvasID, seq)
	time.Sleep(d.delay)
	return cu, err
}

func (d delayedCanvases) Snapshot(ctx context.Context, canvasID string) (canvas.Export, error) {
	ex, err := d.Canvases.Snapshot(ctx, canvasID)
	time.Sleep(d.delay)
	return ex, err
}

func testJoinWhileCanvasChanges(t *testing.T, delay time.Duration) {
	const (
		rounds   = 40
		perRound = 8 // submitted together, so they share journal records and fanout messages
		joiners  = 12
	)
	s := newStack(t, func(c *Config) {
		if delay > 0 {
			c.Canvases = delayedCanvases{c.Canvases, delay}
		}
	}, nil)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	base := s.commit(cid, aID, "add", addNodeOp("n1"), addNodeOp("n2"))
	last := base + rounds*perRound

	var mu sync.Mutex
	head := base
	writerErr := make(chan error, 1)
	batches := make([][]canvas.Op, rounds*perRound)
	for i := range batches {
		batches[i] = toOps(t, setTextOp("n1", fmt.Sprint(i)),
			map[string]any{"op": "node.update", "id": "n2", "set": map[string]any{"x": i}})
	}
	go func() {
		for r := range rounds {
			waits := make([]func(context.Context) (uint64, error), perRound)
			for k := range waits {
				waits[k] = s.hub.SubmitAsync(cid, aID, "", batches[r*perRound+k])
			}
			for _, w := range waits {
				seq, err := w(context.Background())
				if err != nil {
					writerErr <- err
					return
				}
				mu.Lock()
				head = max(head, seq)
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
		writerErr <- nil
	}()

	deadline := time.Now().Add(30 * time.Second)
	type result struct {
		name string
		st   *canvas.State
		err  error
	}
	results := make(chan result, joiners)
	for j := range joiners {
		// Join at a point spread over the writer's run.
		eventually(t, 10*time.Second, "writer progress", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return head >= base+uint64(j)*rounds*perRound/joiners || head == last
		})
		c := s.dial(aTok)
		name := fmt.Sprintf("joiner %d (snapshot)", j)
		var since *uint64
		if j%2 == 1 {
			mu.Lock()
			v := head - min(head, uint64(j)) // a few batches back, sometimes inside a record
			mu.Unlock()
			since = &v
			name = fmt.Sprintf("joiner %d (since %d)", j, v)
		}
		f := c.join(cid, since)
		var st *canvas.State
		after := f.Seq
		switch {
		case since == nil && f.snapshot() == nil:
			t.Fatalf("%s: got no snapshot", name)
		case since == nil:
			st = stateFrom(t, f.snapshot())
		case f.snapshot() != nil:
			t.Fatalf("%s: got a snapshot; want the batches after %d", name, *since)
		default:
			after = *since // the catch-up batches follow the joined frame
		}
		go func() { results <- result{name, st, follow(c.conn, after, last, st, deadline)} }()
	}
	if err := <-writerErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	want := s.snapshotJSON(cid)
	for range joiners {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		if r.st != nil {
			if got := mustJSON(r.st.Export()); !bytes.Equal(got, want) {
				t.Errorf("%s: canvas:\n got %s\nwant %s", r.name, got, want)
			}
		}
	}
}

// TestFanoutGap: when the gateway misses a fanout message it fetches the
// missing batches from the canvas, so its clients see no gap; when the
// canvas no longer keeps them, its clients are closed with 4011 and rejoin
// with since.
func TestFanoutGap(t *testing.T) {
	relay := relayNames(t)
	s := newStack(t, func(c *Config) { c.Names = relay },
		func(c *actors.Config) { c.History = 2 })
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	dropNext := s.relayChanges(relay, cid)

	a := s.dial(aTok)
	a.join(cid, nil)
	s.commit(cid, aID, "1", addNodeOp("n1"))
	a.changes(0, 1)

	dropNext(2)
	s.commit(cid, aID, "2", setTextOp("n1", "lost on the way"))
	s.commit(cid, aID, "3", setTextOp("n1", "arrives"))
	if got := a.changes(1, 3); got[0].ClientBatchID != "2" {
		t.Fatalf("the missed batch: got cbid %q; want 2", got[0].ClientBatchID)
	}
	a.quiet("after-gap")

	// Three lost batches, and the canvas keeps only two: no way to fill.
	dropNext(4, 5, 6)
	for i := 4; i <= 7; i++ {
		s.commit(cid, aID, fmt.Sprint(i), setTextOp("n1", fmt.Sprint(i)))
	}
	if code, frames := a.closed(5 * time.Second); code != apierr.CloseResync || len(frames) != 0 {
		t.Fatalf("got close %d after %d frames; want %d and no frame", code, len(frames), apierr.CloseResync)
	}
	a = s.dial(aTok)
	seen := uint64(3)
	f := a.join(cid, &seen)
	if f.Seq != 7 || f.snapshot() == nil {
		t.Fatalf("rejoin with since=3: got seq %d, snapshot %t; want a snapshot at 7", f.Seq, f.snapshot() != nil)
	}
	s.commit(cid, aID, "8", setTextOp("n1", "8"))
	a.changes(7, 8)
}

// relayNames are the names a gateway hears a canvas's fanout under when
// the test stands between it and the hub (relayChanges).
func relayNames(t *testing.T) natsname.Names {
	t.Helper()
	relay, err := natsname.New("RELAY")
	if err != nil {
		t.Fatal(err)
	}
	return relay
}

// relayChanges forwards the hub's fanout of a canvas to the gateway, which
// hears it under relay, and returns dropNext: the messages whose first seq
// it is given are not forwarded.
func (s *stack) relayChanges(relay natsname.Names, cid string) (dropNext func(seqs ...uint64)) {
	s.t.Helper()
	var mu sync.Mutex
	drop := map[uint64]bool{}
	sub, err := s.nc.Subscribe(natsname.Default().Changes(cid), func(m *nats.Msg) {
		first, _ := seqHeader(m, natsname.HeaderFirstSeq)
		mu.Lock()
		dropped := drop[first]
		mu.Unlock()
		if !dropped {
			_ = s.nc.PublishMsg(&nats.Msg{Subject: relay.Changes(cid), Header: m.Header, Data: m.Data})
		}
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := s.nc.Flush(); err != nil {
		s.t.Fatal(err)
	}
	return func(seqs ...uint64) {
		mu.Lock()
		defer mu.Unlock()
		for _, seq := range seqs {
			drop[seq] = true
		}
	}
}
