package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

func TestSubmitAcksInOrderAndPublishes(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	id := e.canvas("c1")
	sub, err := e.nc.SubscribeSync(h.cfg.Names.Changes(id))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustSubmit(t, h, id, addNode("n1")); got != 1 {
		t.Fatalf("first seq: got %d; want 1", got)
	}
	if got := mustSubmit(t, h, id, setText("n1", "hello")); got != 2 {
		t.Fatalf("second seq: got %d; want 2", got)
	}
	for want := uint64(1); want <= 2; want++ {
		msg, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatalf("fanout %d: %v", want, err)
		}
		if got := msg.Header.Get(natsname.HeaderFirstSeq); got != strconv.FormatUint(want, 10) {
			t.Fatalf("fanout first seq: got %s; want %d", got, want)
		}
		var frame struct {
			Type    string              `json:"type"`
			Canvas  string              `json:"canvas"`
			Batches []journal.Committed `json:"batches"`
		}
		if err := json.Unmarshal(msg.Data, &frame); err != nil {
			t.Fatalf("fanout frame: %v", err)
		}
		if frame.Type != "changes" || frame.Canvas != id || len(frame.Batches) != 1 || frame.Batches[0].Seq != want {
			t.Fatalf("fanout frame: got %+v; want one batch of seq %d on %s", frame, want, id)
		}
	}
	ex := snapshot(t, h, id)
	if ex.Seq != 2 || len(ex.Nodes) != 1 || string(ex.Nodes[0].Data["text"]) != `"hello"` {
		t.Fatalf("snapshot: got seq %d nodes %v; want seq 2 with text hello", ex.Seq, ex.Nodes)
	}
}

func TestRejectedBatchChangesNothing(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	before := exportJSON(t, snapshot(t, h, id))
	sub, _ := e.nc.SubscribeSync(h.cfg.Names.Changes(id))

	_, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{setText("n1", "changed"), addNode("n1")})
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeDuplicateID || opErr.Index != 1 {
		t.Fatalf("submit: got %v; want duplicate_id at op 1", err)
	}
	if after := exportJSON(t, snapshot(t, h, id)); after != before {
		t.Fatalf("state changed by a rejected batch:\n got %s\nwant %s", after, before)
	}
	if got := mustSubmit(t, h, id, setText("n1", "x")); got != 2 {
		t.Fatalf("seq after a rejection: got %d; want 2 (a rejection takes no seq)", got)
	}
	msg, err := sub.NextMsg(2 * time.Second)
	if err != nil || msg.Header.Get(natsname.HeaderFirstSeq) != "2" {
		t.Fatalf("first fanout after rejection: got %v %v; want seq 2 only", msg, err)
	}
}

func TestUnknownCanvas(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	if _, err := h.Snapshot(context.Background(), "nope"); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("snapshot of a missing canvas: got %v; want canvases.ErrNotFound", err)
	}
	if _, err := h.Submit(context.Background(), "nope", "a", "", []canvas.Op{addNode("n")}); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("submit to a missing canvas: got %v; want canvases.ErrNotFound", err)
	}
}

// TestGroupCommit sends many batches at once: every one is acknowledged
// with a distinct seq, and the journal holds them in fewer records.
func TestGroupCommit(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	const n = 300
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{setText("n1", fmt.Sprint(i))})
			if err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
			seqs[i] = seq
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, s := range seqs {
		if s < 2 || s > n+1 || seen[s] {
			t.Fatalf("seq %d out of range or repeated", s)
		}
		seen[s] = true
	}
	records, batches := 0, 0
	_, err := e.journal.Read(context.Background(), id, func(_ uint64, rec journal.Record) error {
		if len(rec.Batches) > 0 {
			records++
			batches += len(rec.Batches)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if batches != n+1 {
		t.Fatalf("journal batches: got %d; want %d", batches, n+1)
	}
	if records >= batches {
		t.Fatalf("journal records: got %d for %d batches; want fewer (group commit)", records, batches)
	}
	t.Logf("%d batches in %d journal records", batches, records)
}

// TestPassivationRestoresState: an idle canvas is checkpointed and stopped;
// the next request reactivates it with the same state.
func TestPassivationRestoresState(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"), addNode("n2"))
	mustSubmit(t, h, id, canvas.Op{Op: canvas.OpEdgeAdd, ID: "e1", Source: "n1", Target: "n2"})
	before := exportJSON(t, snapshot(t, h, id))
	waitFor(t, "passivation", 5*time.Second, func() bool {
		n, err := h.Active(context.Background())
		return err == nil && n == 0
	})
	cp, err := e.store.LoadCheckpoint(context.Background(), id)
	if err != nil || cp.Seq != 2 || len(cp.Nodes) != 2 || len(cp.Edges) != 1 {
		t.Fatalf("checkpoint after passivation: got seq %d, %d nodes, %d edges (%v); want 2, 2, 1", cp.Seq, len(cp.Nodes), len(cp.Edges), err)
	}
	if after := exportJSON(t, snapshot(t, h, id)); after != before {
		t.Fatalf("state after reactivation:\n got %s\nwant %s", after, before)
	}
	if got := mustSubmit(t, h, id, setText("n1", "again")); got != 3 {
		t.Fatalf("seq after reactivation: got %d; want 3", got)
	}
}

// TestStaleOwnerIsFenced is guarantee 2: two actors for one canvas on one
// journal; the older one's next append fails, it stops, and nothing is
// committed twice.
func TestStaleOwnerIsFenced(t *testing.T) {
	e := newEnv(t)
	h1 := e.hub(nil)
	h2 := e.hub(nil)
	id := e.canvas("c1")
	mustSubmit(t, h1, id, addNode("n1"))
	mustSubmit(t, h2, id, setText("n1", "from h2")) // h2 activates: its epoch marker fences h1

	_, err := h1.Submit(context.Background(), id, "a", "", []canvas.Op{setText("n1", "from h1")})
	if !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("stale owner's submit: got %v; want canvases.ErrUnavailable", err)
	}
	waitFor(t, "the stale actor to stop", 5*time.Second, func() bool {
		n, err := h1.Active(context.Background())
		return err == nil && n == 0
	})
	var seqs []uint64
	_, err = e.journal.Read(context.Background(), id, func(_ uint64, rec journal.Record) error {
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
		t.Fatal(err)
	}
	if fmt.Sprint(seqs) != "[1 2]" {
		t.Fatalf("journal seqs: got %v; want [1 2]", seqs)
	}
	ex := snapshot(t, h2, id)
	if string(ex.Nodes[0].Data["text"]) != `"from h2"` {
		t.Fatalf("text: got %s; want from h2", ex.Nodes[0].Data["text"])
	}
}

func TestSinceReturnsExactlyTheMissedBatches(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.History = 5 })
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	for i := range 7 {
		mustSubmit(t, h, id, setText("n1", fmt.Sprint(i)))
	}
	cu, err := h.Since(context.Background(), id, 5)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, raw := range cu.Batches {
		var c journal.Committed
		_ = json.Unmarshal(raw, &c)
		got = append(got, c.Seq)
	}
	if fmt.Sprint(got) != "[6 7 8]" || cu.Snapshot != nil || cu.Seq != 8 {
		t.Fatalf("since 5: got %v (snapshot %v, seq %d); want [6 7 8]", got, cu.Snapshot != nil, cu.Seq)
	}
	cu, err = h.Since(context.Background(), id, 8)
	if err != nil || len(cu.Batches) != 0 || cu.Snapshot != nil {
		t.Fatalf("since the head: got %+v, %v; want nothing", cu, err)
	}
	cu, err = h.Since(context.Background(), id, 1) // older than the 5 kept
	if err != nil || cu.Snapshot == nil || cu.Snapshot.Seq != 8 {
		t.Fatalf("since older than history: got %+v, %v; want a snapshot at 8", cu, err)
	}
}

// TestPanicRestartsFromCheckpointAndJournal: a panicking actor is restarted
// and serves the same committed state, from the checkpoint and the journal
// after it; and the checkpoint that follows that replay holds it too, the
// delete replayed included.
func TestPanicRestartsFromCheckpointAndJournal(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	h0 := e.hub(nil)
	mustSubmit(t, h0, id, addNode("n1"), addNode("n2"), edge("e1", "n1", "n2"))
	shutdown(t, h0) // checkpointed at seq 1
	h := e.hub(func(c *Config) { c.CheckpointOps = 1 << 30; c.CheckpointInterval = time.Hour })
	mustSubmit(t, h, id, setText("n1", "before crash"))
	mustSubmit(t, h, id, canvas.Op{Op: canvas.OpNodeDelete, ID: "n2"})
	before := exportJSON(t, snapshot(t, h, id))
	h.send(&crash{Canvas: id})
	if after := exportJSON(t, snapshot(t, h, id)); after != before {
		t.Fatalf("state after restart: %s", exportDiff(t, after, before))
	}
	if got := mustSubmit(t, h, id, setText("n1", "after")); got != 4 {
		t.Fatalf("seq after restart: got %d; want 4", got)
	}
	want := exportJSON(t, snapshot(t, h, id))
	shutdown(t, h)
	if got := exportJSON(t, snapshot(t, e.hub(nil), id)); got != want {
		t.Fatalf("after the restart's replay, a checkpoint and a reload: %s", exportDiff(t, got, want))
	}
}

// TestRepeatedPanicsStopTheActor: past the restart budget the actor stops
// instead of looping, and a later request activates a fresh one.
func TestRepeatedPanicsStopTheActor(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.AskTimeout = time.Second })
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	for range 5 {
		h.send(&crash{Canvas: id})
		// A request queued behind the crash that stops the actor is lost
		// with its mailbox and times out; the next one gets a new actor.
		_, _ = h.Snapshot(context.Background(), id)
	}
	ex := snapshot(t, h, id)
	if ex.Seq != 1 {
		t.Fatalf("seq: got %d; want 1", ex.Seq)
	}
}

func TestNodeCapAndLimitsApply(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.Limits = canvas.Limits{MaxNodes: 2} })
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("a"), addNode("b"))
	_, err := h.Submit(context.Background(), id, "x", "", []canvas.Op{addNode("c")})
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeCanvasFull {
		t.Fatalf("third node: got %v; want canvas_full", err)
	}
}

func TestForgetStopsAndDeletesTheJournal(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	if err := e.store.DeleteCanvas(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := h.Forget(context.Background(), id); err != nil {
		t.Fatalf("forget: %v", err)
	}
	if last, err := e.journal.Last(context.Background(), id); err != nil || last != 0 {
		t.Fatalf("journal after forget: last %d, %v; want empty", last, err)
	}
	if _, err := h.Snapshot(context.Background(), id); !errors.Is(err, canvases.ErrNotFound) {
		t.Fatalf("snapshot after forget: got %v; want canvases.ErrNotFound", err)
	}
}

func TestTitleChangeReachesTheStoreAtOnce(t *testing.T) {
	e := newEnv(t)
	h := e.hub(nil)
	id := e.canvas("c1")
	title := "New title"
	mustSubmit(t, h, id, canvas.Op{Op: canvas.OpCanvasUpdate, Title: &title})
	waitFor(t, "the title in the store", 5*time.Second, func() bool {
		c, err := e.store.Canvas(context.Background(), id)
		return err == nil && c.Title == title
	})
}

// TestJournalTrimmedOnlyUpToCheckpoint: after checkpoints the journal keeps
// only the history window, never a batch the checkpoint does not cover, and
// a new owner still rebuilds the same state.
func TestJournalTrimmedOnlyUpToCheckpoint(t *testing.T) {
	e := newEnv(t)
	h1 := e.hub(func(c *Config) { c.CheckpointOps = 10; c.History = 5 })
	id := e.canvas("c1")
	mustSubmit(t, h1, id, addNode("n1"))
	for i := range 60 {
		mustSubmit(t, h1, id, setText("n1", fmt.Sprint(i)))
	}
	live := exportJSON(t, snapshot(t, h1, id))
	countBatches := func() (n int, first uint64) {
		_, err := e.journal.Read(context.Background(), id, func(_ uint64, rec journal.Record) error {
			for _, raw := range rec.Batches {
				var c journal.Committed
				if err := json.Unmarshal(raw, &c); err != nil {
					return err
				}
				if first == 0 {
					first = c.Seq
				}
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, first
	}
	// Checkpoints land every 10 ops and trims follow them: read the journal
	// between two reads of the same checkpoint, once trimming has begun.
	var cp store.Checkpoint
	var n int
	var first uint64
	waitFor(t, "a trimmed journal between two equal checkpoints", 5*time.Second, func() bool {
		cp1, err1 := e.store.LoadCheckpoint(context.Background(), id)
		n, first = countBatches()
		cp2, err2 := e.store.LoadCheckpoint(context.Background(), id)
		cp = cp2
		return err1 == nil && err2 == nil && cp1.Seq == cp2.Seq && n < 61
	})
	if first > cp.Seq+1 {
		t.Fatalf("journal starts at seq %d but the checkpoint is at %d: batches lost", first, cp.Seq)
	}
	t.Logf("journal keeps %d batches from seq %d; checkpoint at %d", n, first, cp.Seq)
	h2 := e.hub(nil)
	if got := exportJSON(t, snapshot(t, h2, id)); got != live {
		t.Fatalf("state rebuilt after trimming differs:\n got %s\nwant %s", got, live)
	}
}

// TestResentBatchIsNotAppliedTwice: a client that sends a batch again with
// the same client batch id (after a dropped connection) gets the first
// outcome; the batch is applied once, also after reactivation.
func TestResentBatchIsNotAppliedTwice(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	id := e.canvas("c1")
	mustSubmit(t, h, id, addNode("n1"))
	send := func(cbid, author string) uint64 {
		seq, err := h.Submit(context.Background(), id, author, cbid, []canvas.Op{setText("n1", cbid)})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	first := send("b1", "alice")
	if again := send("b1", "alice"); again != first {
		t.Fatalf("resent batch: got seq %d; want the first's %d", again, first)
	}
	if other := send("b1", "bob"); other == first {
		t.Fatalf("another author's batch with the same id was taken for a duplicate")
	}
	// Sent twice at once: both answers carry one seq.
	var wg sync.WaitGroup
	seqs := make([]uint64, 4)
	for i := range seqs {
		wg.Add(1)
		go func() { defer wg.Done(); seqs[i] = send("b2", "alice") }()
	}
	wg.Wait()
	for _, s := range seqs {
		if s != seqs[0] {
			t.Fatalf("concurrent resends: got seqs %v; want one", seqs)
		}
	}
	head := snapshot(t, h, id).Seq
	waitFor(t, "passivation", 5*time.Second, func() bool {
		n, err := h.Active(context.Background())
		return err == nil && n == 0
	})
	if again := send("b1", "alice"); again != first {
		t.Fatalf("resent after reactivation: got seq %d; want %d", again, first)
	}
	if got := snapshot(t, h, id).Seq; got != head {
		t.Fatalf("seq after resends: got %d; want %d (nothing applied twice)", got, head)
	}
}

// TestPipelinedSubmitsKeepOrderAcrossPassivation: batches one caller
// pipelines are committed in the order sent, none lost or refused, while the
// canvas passivates and reactivates between them (requests go straight to
// a live actor, and through the supervisor around passivation).
func TestPipelinedSubmitsKeepOrderAcrossPassivation(t *testing.T) {
	e := newEnv(t)
	h := e.hub(func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	id := e.canvas("c1")
	first := mustSubmit(t, h, id, addNode("n1"))
	var waits []func(context.Context) (uint64, error)
	for round := range 30 {
		for k := range 10 {
			waits = append(waits, h.SubmitAsync(id, "a", "", []canvas.Op{setText("n1", fmt.Sprint(round, k))}))
		}
		// Rounds wait past the idle timeout, so the canvas passivates
		// there and the next round meets it stopping or gone, or around it,
		// so that requests meet the idle check.
		switch round % 3 {
		case 1:
			time.Sleep(time.Duration(15+round) * time.Millisecond)
		case 2:
			time.Sleep(60 * time.Millisecond)
		}
	}
	want := first + 1
	for i, wait := range waits {
		seq, err := wait(context.Background())
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if seq != want {
			t.Fatalf("batch %d: got seq %d; want %d (the order sent)", i, seq, want)
		}
		want++
	}
	if got := snapshot(t, h, id); got.Seq != want-1 || string(got.Nodes[0].Data["text"]) != `"29 9"` {
		t.Fatalf("snapshot: got seq %d text %s; want seq %d text \"29 9\"", got.Seq, got.Nodes[0].Data["text"], want-1)
	}
}

// TestTickIntervalSpreadsCheckpoints: checkpoint ticks come at most
// CheckpointInterval apart; the first at a random point of the interval,
// the later ones spread over its last eighth.
func TestTickIntervalSpreadsCheckpoints(t *testing.T) {
	a := &canvasActor{hub: &Hub{cfg: Config{CheckpointInterval: 40 * time.Second}}}
	for _, c := range []struct {
		first  bool
		lo, hi time.Duration
	}{{true, 5 * time.Second, 40 * time.Second}, {false, 35 * time.Second, 40 * time.Second}} {
		lo, hi := time.Hour, time.Duration(0)
		for range 2000 {
			d := a.tickInterval(c.first)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < c.lo || hi > c.hi {
			t.Fatalf("first=%v: ticks between %v and %v; want within [%v, %v]", c.first, lo, hi, c.lo, c.hi)
		}
		if spread := c.hi - c.lo; hi-lo < spread*9/10 {
			t.Fatalf("first=%v: ticks between %v and %v; want them spread over [%v, %v]", c.first, lo, hi, c.lo, c.hi)
		}
	}
}
