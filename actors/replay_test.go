package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// unsavedStore is a real store whose checkpoints never happen, as when the
// process dies before they run: what a hub on it commits is in the journal
// only. Everything else is the real store's.
type unsavedStore struct{ store.Store }

var errUnsaved = errors.New("checkpoint not written (the process is about to die)")

func (unsavedStore) SaveCheckpoint(context.Context, store.CheckpointDelta) error { return errUnsaved }

// shutdown stops h gracefully, with its final checkpoints.
func shutdown(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestCheckpointPlusReplayEqualsLive is guarantee 5: after a crash (no final
// checkpoint), a new actor built from checkpoint + journal has the same
// export, byte for byte; and so has the canvas after the checkpoint that
// follows that replay and a restart from it. The replayed span holds every
// kind of change: node add, update (geometry, data set and unset) and
// delete (with the edges it takes along), edge add and delete, an id added
// and deleted, an id deleted and added again, title and settings (set and
// removed), and the node updates of AI runs (finished and cancelled).
func TestCheckpointPlusReplayEqualsLive(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) { checkpointPlusReplay(t, kind) })
	}
}

func checkpointPlusReplay(t *testing.T, kind string) {
	e := newEnvOn(t, kind)
	id := e.canvas("c1")
	eng := &fakeEngine{}
	title := "Renamed"
	step := func(h *Hub, i int) {
		nid := fmt.Sprintf("n%d", i%12)
		if nid == "n5" && i > 29 {
			nid = "n4" // n5 is deleted at 29
		}
		ops := []canvas.Op{setText(nid, fmt.Sprint("v", i))}
		switch {
		case i < 12:
			ops = []canvas.Op{addNode(nid)}
		case i == 29:
			ops = []canvas.Op{{Op: canvas.OpNodeDelete, ID: "n5"}}
		case i == 23:
			ops = []canvas.Op{{Op: canvas.OpCanvasUpdate, Title: &title, Settings: map[string]json.RawMessage{"grid": json.RawMessage(`true`)}}}
		}
		if i%9 == 8 && i != 29 {
			ops = append(ops, canvas.Op{Op: canvas.OpEdgeAdd, ID: fmt.Sprint("e", i), Source: "n1", Target: nid})
		}
		mustSubmit(t, h, id, ops...)
	}

	// Phase 1 checkpoints incrementally (every 7 ops) and at shutdown.
	h1 := e.hub(func(c *Config) { c.CheckpointOps = 7; c.AI = eng })
	for i := range 30 {
		step(h1, i)
	}
	text := func(s string) *string { return &s }
	mustSubmit(t, h1, id, canvas.Op{Op: canvas.OpCommentAdd, ID: "t1", Node: "n1", X: f(1), Y: f(2), Text: text("first"), Mentions: []string{"u-2"}},
		canvas.Op{Op: canvas.OpCommentAdd, ID: "t2", X: f(-5), Y: f(6), Text: text("second")})
	mustSubmit(t, h1, id, canvas.Op{Op: canvas.OpCommentAdd, ID: "r1", Thread: "t1", Text: text("reply")},
		canvas.Op{Op: canvas.OpCommentAdd, ID: "r2", Thread: "t2", Text: text("reply to second")})
	cpSeq := mustSubmit(t, h1, id, aiNode("q", "What?"), aiNode("r", "Why?"), edge("e30", "n3", "q"), edge("e31", "n6", "r"))
	shutdown(t, h1)

	// Phase 2 never reaches the store: everything after cpSeq is in the
	// journal only.
	h2 := e.hub(func(c *Config) {
		c.Store = unsavedStore{e.store}
		c.CheckpointOps = 1 << 30
		c.CheckpointInterval = time.Hour
		c.AI = eng
	})
	renamed := "Replayed"
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, ops := range [][]canvas.Op{
		{{Op: canvas.OpNodeAdd, ID: "n20", Kind: "note", X: f(-3.5), Y: f(7), W: f(300), H: f(90), Z: f(4),
			Data: map[string]json.RawMessage{"text": raw(`"new"`), "tags": raw(`["a",{"b":1}]`)}}},
		{{Op: canvas.OpNodeUpdate, ID: "n3", Set: map[string]json.RawMessage{
			"x": raw(`10`), "y": raw(`-20.25`), "w": raw(`111`), "h": raw(`222`), "z": raw(`-3`), "data.extra": raw(`{"k":[1,2]}`)}}},
		{{Op: canvas.OpNodeUpdate, ID: "n4", Unset: []string{"data.text"}}},
		{{Op: canvas.OpNodeDelete, ID: "n2"}},              // takes checkpointed e26 along
		{{Op: canvas.OpEdgeDelete, ID: "e8"}},              // checkpointed
		{edge("e40", "n3", "n20")},                         // new
		{addNode("tmp"), edge("e41", "tmp", "n20")},        // added ...
		{{Op: canvas.OpNodeDelete, ID: "tmp"}},             // ... and deleted in the span
		{{Op: canvas.OpNodeDelete, ID: "n6"}},              // checkpointed, with e31 ...
		{textNode("n6", "back"), edge("e31", "n20", "n6")}, // ... and added again
		{{Op: canvas.OpCanvasUpdate, Title: &renamed, Settings: map[string]json.RawMessage{"grid": raw(`null`), "zoom": raw(`2`)}}},
		{setText("n7", "a"), {Op: canvas.OpNodeUpdate, ID: "n9", Set: map[string]json.RawMessage{"x": raw(`5`)}},
			edge("e42", "n9", "n10"), {Op: canvas.OpEdgeDelete, ID: "e30"}}, // several in one batch
		{{Op: canvas.OpCommentUpdate, ID: "t1", Resolved: ptrTo(true)}, {Op: canvas.OpCommentUpdate, ID: "r1", Text: text("edited")}}, // checkpointed comments
		{{Op: canvas.OpCommentDelete, ID: "t2"}}, // takes checkpointed r2 along
		{{Op: canvas.OpCommentAdd, ID: "t3", Node: "n20", Text: text("new thread"), Mentions: []string{"u-3"}}},
		{{Op: canvas.OpCommentAdd, ID: "tmpc", X: f(0), Y: f(0), Text: text("gone soon")}}, // added ...
		{{Op: canvas.OpCommentDelete, ID: "tmpc"}},                                         // ... and deleted in the span
		{{Op: aicard.OpRun, ID: "q"}},
		{{Op: aicard.OpRun, ID: "r"}},
		{{Op: aicard.OpCancel, ID: "r"}},
	} {
		mustSubmit(t, h2, id, ops...)
	}
	// The jobs are queued on goroutines of their own, in either order.
	runs := map[string]string{}
	for i := range 2 {
		j := eng.job(t, i)
		runs[j.Node] = j.Run
	}
	if err := h2.FinishAIRun(context.Background(), id, "q", runs["q"], canvases.AIResult{Status: aicard.StatusDone, Text: "42", InputTokens: 3, OutputTokens: 1}); err != nil {
		t.Fatalf("finish q: %v", err)
	}
	if err := h2.FinishAIRun(context.Background(), id, "r", runs["r"], canvases.AIResult{Status: aicard.StatusCancelled, Text: "part"}); err != nil {
		t.Fatalf("finish r: %v", err)
	}
	mustSubmit(t, h2, id, setText("n7", "last"))
	live := exportJSON(t, snapshot(t, h2, id))
	for _, want := range []string{`"id":"r1","thread":"t1","x":0,"y":0,"text":"edited"`, `"id":"t1","node":"n1","x":1,"y":2,"text":"first","mentions":["u-2"],"resolved":true`, `"id":"t3"`} {
		if !strings.Contains(live, want) {
			t.Fatalf("live export has no %s: %s", want, live)
		}
	}
	for _, gone := range []string{`"id":"t2"`, `"id":"r2"`, `"id":"tmpc"`} {
		if strings.Contains(live, gone) {
			t.Fatalf("live export still has %s", gone)
		}
	}
	cp, err := e.store.LoadCheckpoint(context.Background(), id)
	if err != nil || cp.Seq != cpSeq {
		t.Fatalf("checkpoint: got seq %d (%v); want %d", cp.Seq, err, cpSeq)
	}
	if c, err := e.store.Canvas(context.Background(), id); err != nil || c.Title != title {
		t.Fatalf("stored title: got %q (%v); want %q: phase 2 must not reach the store", c.Title, err, title)
	}

	// Another node activates the canvas while h2 still runs (as after a
	// crash of h2): checkpoint + journal must equal the live state.
	h3 := e.hub(func(c *Config) { c.AI = eng })
	if got := exportJSON(t, snapshot(t, h3, id)); got != live {
		t.Fatalf("checkpoint+replay differs from live: %s", exportDiff(t, got, live))
	}
	// The checkpoint that follows the replay must bring the store to the
	// same state: a restart from it alone shows the canvas unchanged.
	shutdown(t, h3)
	cp, err = e.store.LoadCheckpoint(context.Background(), id)
	if want := snapshotSeq(t, live); err != nil || cp.Seq != want {
		t.Fatalf("checkpoint after the replay: got seq %d (%v); want %d", cp.Seq, err, want)
	}
	h4 := e.hub(func(c *Config) { c.AI = eng })
	if got := exportJSON(t, snapshot(t, h4, id)); got != live {
		t.Fatalf("after the replay, a checkpoint and a restart: %s", exportDiff(t, got, live))
	}
}

func snapshotSeq(t *testing.T, export string) uint64 {
	t.Helper()
	var ex struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal([]byte(export), &ex); err != nil {
		t.Fatalf("export: %v", err)
	}
	return ex.Seq
}

// exportDiff says how the export got differs from want: the metadata, and
// each node and edge that is missing, extra or different.
func exportDiff(t *testing.T, got, want string) string {
	t.Helper()
	type parts struct {
		meta         string
		nodes, edges map[string]string
	}
	split := func(s string) parts {
		var ex struct {
			Nodes []json.RawMessage `json:"nodes"`
			Edges []json.RawMessage `json:"edges"`
		}
		var rest map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &ex) != nil || json.Unmarshal([]byte(s), &rest) != nil {
			t.Fatalf("export is not JSON: %s", s)
		}
		delete(rest, "nodes")
		delete(rest, "edges")
		meta, _ := json.Marshal(rest)
		p := parts{meta: string(meta), nodes: map[string]string{}, edges: map[string]string{}}
		for _, list := range []struct {
			raw []json.RawMessage
			m   map[string]string
		}{{ex.Nodes, p.nodes}, {ex.Edges, p.edges}} {
			for _, r := range list.raw {
				var v struct{ ID string }
				_ = json.Unmarshal(r, &v)
				list.m[v.ID] = string(r)
			}
		}
		return p
	}
	g, w := split(got), split(want)
	var out []string
	if g.meta != w.meta {
		out = append(out, fmt.Sprintf("metadata: got %s; want %s", g.meta, w.meta))
	}
	for _, kind := range []struct {
		name     string
		got, exp map[string]string
	}{{"node", g.nodes, w.nodes}, {"edge", g.edges, w.edges}} {
		for _, id := range slices.Sorted(maps.Keys(kind.got)) {
			if _, ok := kind.exp[id]; !ok {
				out = append(out, fmt.Sprintf("%s %s: got %s; want none", kind.name, id, kind.got[id]))
			} else if kind.got[id] != kind.exp[id] {
				out = append(out, fmt.Sprintf("%s %s: got %s; want %s", kind.name, id, kind.got[id], kind.exp[id]))
			}
		}
		for _, id := range slices.Sorted(maps.Keys(kind.exp)) {
			if _, ok := kind.got[id]; !ok {
				out = append(out, fmt.Sprintf("%s %s: missing; want %s", kind.name, id, kind.exp[id]))
			}
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("the same content in other bytes:\n got %s\nwant %s", got, want)
	}
	return "\n\t" + strings.Join(out, "\n\t")
}

// recordingStore is a real store that keeps a copy of each checkpoint it
// saves.
type recordingStore struct {
	store.Store
	mu     sync.Mutex
	deltas []store.CheckpointDelta
}

func (s *recordingStore) SaveCheckpoint(ctx context.Context, d store.CheckpointDelta) error {
	s.mu.Lock()
	s.deltas = append(s.deltas, d)
	s.mu.Unlock()
	return s.Store.SaveCheckpoint(ctx, d)
}

// TestCheckpointAfterReplayWritesWhatTheReplayChanged: the first checkpoint
// after a replay writes the nodes and edges the replayed batches touched,
// deletes the ones they deleted, and leaves the others alone.
func TestCheckpointAfterReplayWritesWhatTheReplayChanged(t *testing.T) {
	e := newEnv(t)
	id := e.canvas("c1")
	h1 := e.hub(nil)
	var ops []canvas.Op
	for i := range 10 {
		ops = append(ops, addNode(fmt.Sprint("n", i)))
	}
	mustSubmit(t, h1, id, append(ops, edge("e1", "n1", "n2"), edge("e2", "n3", "n4"))...)
	shutdown(t, h1)

	h2 := e.hub(func(c *Config) { c.Store = unsavedStore{e.store} })
	mustSubmit(t, h2, id, setText("n5", "changed"))
	mustSubmit(t, h2, id, canvas.Op{Op: canvas.OpNodeDelete, ID: "n2"}, addNode("n10"))
	mustSubmit(t, h2, id, canvas.Op{Op: canvas.OpEdgeDelete, ID: "e2"}, edge("e3", "n5", "n10"))

	rec := &recordingStore{Store: e.store}
	h3 := e.hub(func(c *Config) { c.Store = rec })
	live := exportJSON(t, snapshot(t, h3, id))
	shutdown(t, h3)
	rec.mu.Lock()
	deltas := rec.deltas
	rec.mu.Unlock()
	if len(deltas) != 1 {
		t.Fatalf("checkpoints after the replay: got %d; want 1", len(deltas))
	}
	d := deltas[0]
	var puts, putEdges []string
	for _, n := range d.PutNodes {
		puts = append(puts, n.ID)
	}
	for _, e := range d.PutEdges {
		putEdges = append(putEdges, e.ID)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"nodes written", puts, []string{"n10", "n5"}},
		{"nodes deleted", d.DeleteNodes, []string{"n2"}},
		{"edges written", putEdges, []string{"e3"}},
		{"edges deleted", d.DeleteEdges, []string{"e1", "e2"}},
	} {
		slices.Sort(c.got)
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s by the checkpoint after the replay: got %v; want %v", c.what, c.got, c.want)
		}
	}
	if d.Meta != nil {
		t.Errorf("metadata written by the checkpoint after the replay: got %+v; want none (no replayed batch changed it)", *d.Meta)
	}
	h4 := e.hub(nil)
	if got := exportJSON(t, snapshot(t, h4, id)); got != live {
		t.Errorf("after the replay, a checkpoint and a restart: %s", exportDiff(t, got, live))
	}
}

// TestNegativeZeroExportsTheSameAfterCheckpointAndReplay: -0 in geometry,
// data and settings is held as 0, so the export is the same bytes live,
// after a checkpoint and a reload from the store (SQLite drops the sign of
// a zero, PostgreSQL keeps it), and after a replay from the journal.
func TestNegativeZeroExportsTheSameAfterCheckpointAndReplay(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnvOn(t, kind)
			id := e.canvas("c1")
			raw := func(s string) json.RawMessage { return json.RawMessage(s) }
			negZero := math.Copysign(0, -1)
			h1 := e.hub(nil)
			mustSubmit(t, h1, id, canvas.Op{Op: canvas.OpNodeAdd, ID: "a", Kind: "text", X: &negZero, Y: &negZero, Z: &negZero,
				Data: map[string]json.RawMessage{"a": raw(`-0`), "b": raw(`-0.0`), "c": raw(`-0e5`), "d": raw(`[-0,{"e":-0E-2}]`), "s": raw(`"-0"`)}},
				addNode("b"), canvas.Op{Op: canvas.OpEdgeAdd, ID: "ab", Source: "a", Target: "b", Data: map[string]json.RawMessage{"w": raw(`-0.0`)}})
			mustSubmit(t, h1, id, canvas.Op{Op: canvas.OpCanvasUpdate, Settings: map[string]json.RawMessage{"zoom": raw(`-0`)}})
			live := exportJSON(t, snapshot(t, h1, id))
			for _, want := range []string{`"settings":{"zoom":0}`, `"x":0,"y":0,`, `"data":{"a":0,"b":0.0,"c":0e5,"d":[0,{"e":0E-2}],"s":"-0"}`, `"data":{"w":0.0}`} {
				if !strings.Contains(live, want) {
					t.Errorf("export: got %s; want it to hold %s", live, want)
				}
			}
			shutdown(t, h1)
			h2 := e.hub(nil)
			if got := exportJSON(t, snapshot(t, h2, id)); got != live {
				t.Errorf("after a checkpoint and a reload: %s", exportDiff(t, got, live))
			}
			// Journal only: set -0 again, then another node replays it.
			mustSubmit(t, h2, id, canvas.Op{Op: canvas.OpNodeUpdate, ID: "b", Set: map[string]json.RawMessage{"x": raw(`-0`), "y": raw(`-1e-400`), "data.n": raw(`-0.00`)}})
			live = exportJSON(t, snapshot(t, h2, id))
			if want := `"id":"b","kind":"text","x":0,"y":0,`; !strings.Contains(live, want) {
				t.Errorf("export: got %s; want it to hold %s", live, want)
			}
			h3 := e.hub(nil)
			if got := exportJSON(t, snapshot(t, h3, id)); got != live {
				t.Errorf("after a replay: %s", exportDiff(t, got, live))
			}
			shutdown(t, h3)
			h4 := e.hub(nil)
			if got := exportJSON(t, snapshot(t, h4, id)); got != live {
				t.Errorf("after a replay, a checkpoint and a reload: %s", exportDiff(t, got, live))
			}
		})
	}
}

// TestStoredNegativeZeroLoadsAsZero: a checkpoint that holds -0 (written
// before -0 was held as 0; PostgreSQL keeps the sign) loads as 0.
func TestStoredNegativeZeroLoadsAsZero(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnvOn(t, kind)
			id := e.canvas("c1")
			now := time.Now().UTC()
			err := e.store.SaveCheckpoint(context.Background(), store.CheckpointDelta{
				CanvasID: id, FromSeq: 0, Seq: 1, At: now,
				Meta: &store.CanvasMeta{Title: "Z", Settings: json.RawMessage(`{"zoom":-0.0}`)},
				PutNodes: []store.Node{{ID: "a", Kind: "text", X: math.Copysign(0, -1), Y: math.Copysign(0, -1), W: 240, H: 120,
					Data: json.RawMessage(`{"v":-0,"w":[-0e1]}`), AuthorID: "u", CreatedAt: now, UpdatedAt: now}},
			})
			if err != nil {
				t.Fatal(err)
			}
			ex := exportJSON(t, snapshot(t, e.hub(nil), id))
			for _, want := range []string{`"settings":{"zoom":0.0}`, `"x":0,"y":0,`, `"data":{"v":0,"w":[0e1]}`} {
				if !strings.Contains(ex, want) {
					t.Errorf("export: got %s; want it to hold %s", ex, want)
				}
			}
		})
	}
}

// FuzzExportSurvivesCheckpointAndReplay: whatever JSON value a card's data
// holds and whatever number its x is, the canvas exports the same bytes
// live, after a checkpoint and a reload from the store, after a replay of
// the journal, and after the checkpoint that follows that replay, on both
// stores. Values that are not valid UTF-8 are left to the text rules.
func FuzzExportSurvivesCheckpointAndReplay(f *testing.F) {
	for _, seed := range []struct {
		value string
		x     float64
	}{
		{`-0`, math.Copysign(0, -1)}, {`-0.0e-0`, 0}, {`[-0,{"a":-0E+1},"-0",-0.5]`, -0.5}, {`1.50`, 1e7},
		{`{"b" : [ 1 , 2 ], "a":"<&>"}`, -1e-300}, {`"\u2028\u0000"`, 3}, {`1e400`, 2}, {`-1e-400`, -1},
	} {
		f.Add([]byte(seed.value), seed.x)
	}
	envs := map[string]*env{}
	for _, kind := range storeKinds {
		envs[kind] = newEnvOn(f, kind)
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, value []byte, x float64) {
		if !json.Valid(value) || !utf8.Valid(value) {
			return
		}
		id := fmt.Sprint("c", n.Add(1))
		for _, kind := range storeKinds {
			e := *envs[kind]
			e.t = t
			e.canvas(id)
			h1 := e.hub(nil)
			add := addNode("a")
			add.X = &x
			add.Data = map[string]json.RawMessage{"v": json.RawMessage(value)}
			if _, err := h1.Submit(context.Background(), id, "u", "", []canvas.Op{add}); err != nil {
				var opErr *canvas.OpError
				if !errors.As(err, &opErr) {
					t.Fatalf("%s: node.add: %v", kind, err)
				}
				return // refused, as it would be on any store
			}
			live := exportJSON(t, snapshot(t, h1, id))
			shutdown(t, h1)
			h2 := e.hub(nil)
			if got := exportJSON(t, snapshot(t, h2, id)); got != live {
				t.Fatalf("%s: after a checkpoint and a reload: %s", kind, exportDiff(t, got, live))
			}
			mustSubmit(t, h2, id, canvas.Op{Op: canvas.OpNodeUpdate, ID: "a", Set: map[string]json.RawMessage{"data.w": json.RawMessage(value)}})
			live = exportJSON(t, snapshot(t, h2, id))
			h3 := e.hub(nil) // replays while h2 runs, as after a crash of h2
			if got := exportJSON(t, snapshot(t, h3, id)); got != live {
				t.Fatalf("%s: after a replay: %s", kind, exportDiff(t, got, live))
			}
			shutdown(t, h3)
			if got := exportJSON(t, snapshot(t, e.hub(nil), id)); got != live {
				t.Fatalf("%s: after a replay, a checkpoint and a reload: %s", kind, exportDiff(t, got, live))
			}
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
