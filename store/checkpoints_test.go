package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

// node is a node as the stores return it, made at base+d.
func node(id string, d time.Duration) store.Node {
	return store.Node{ID: id, Kind: "note", X: 10.5, Y: -3.25, W: 200, H: 120, Z: 1 << 40,
		Data: json.RawMessage(`{"text": "hi ` + id + `",  "tags":["a"]}`), AuthorID: "u-author",
		CreatedAt: at(d), UpdatedAt: at(d + time.Second)}
}

// edge is an edge as the stores return it.
func edge(id, source, target string) store.Edge {
	return store.Edge{ID: id, Source: source, Target: target, Kind: "arrow",
		Data: json.RawMessage(`{"label":"` + id + `"}`), AuthorID: "u-author", CreatedAt: at(time.Minute)}
}

func load(t *testing.T, s store.Store, canvasID string) store.Checkpoint {
	t.Helper()
	cp, err := s.LoadCheckpoint(t.Context(), canvasID)
	if err != nil {
		t.Fatalf("LoadCheckpoint: %v", err)
	}
	return cp
}

func testCheckpointEmpty(t *testing.T, s store.Store) {
	u := mkUser(t, s, "emma")
	c := mkCanvas(t, s, u.ID, 0)
	cp := load(t, s, c.ID)
	equal(t, "checkpoint of a new canvas", cp, store.Checkpoint{CanvasID: c.ID, Nodes: []store.Node{}, Edges: []store.Edge{}, Comments: []store.Comment{}})
	if cp.Nodes == nil || cp.Edges == nil {
		t.Errorf("checkpoint of a new canvas: got nil slices (nodes %v, edges %v); want empty ones", cp.Nodes == nil, cp.Edges == nil)
	}
	_, err := s.LoadCheckpoint(t.Context(), newID("c"))
	isErr(t, "LoadCheckpoint of an unknown canvas", err, store.ErrNotFound)
	err = s.SaveCheckpoint(t.Context(), store.CheckpointDelta{CanvasID: newID("c"), Seq: 1, At: base})
	isErr(t, "SaveCheckpoint of an unknown canvas from 0", err, store.ErrNotFound)
	err = s.SaveCheckpoint(t.Context(), store.CheckpointDelta{CanvasID: newID("c"), FromSeq: 1, Seq: 2, At: base})
	isErr(t, "SaveCheckpoint of an unknown canvas from 1", err, store.ErrNotFound)
}

func testCheckpointDeltas(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "dev")
	c := mkCanvas(t, s, u.ID, 0)

	// Times with nanoseconds outside UTC come back in UTC, truncated to
	// the microsecond.
	n1, n2 := node("n1", 0), node("n2", time.Second)
	n2.CreatedAt, n2.UpdatedAt = base.Add(time.Second), base.Add(2*time.Second)
	e1 := edge("e1", "n1", "n2")
	must(t, "SaveCheckpoint 0→3", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, FromSeq: 0, Seq: 3, At: base.Add(time.Minute),
		PutNodes: []store.Node{n2, n1}, PutEdges: []store.Edge{e1},
	}))
	n2.CreatedAt, n2.UpdatedAt = at(time.Second), at(2*time.Second)
	equal(t, "checkpoint at 3", load(t, s, c.ID),
		store.Checkpoint{CanvasID: c.ID, Seq: 3, Nodes: []store.Node{n1, n2}, Edges: []store.Edge{e1}, Comments: []store.Comment{}})
	got, err := s.Canvas(ctx, c.ID)
	isErr(t, "Canvas", err, nil)
	equal(t, "canvas UpdatedAt after a save", got.UpdatedAt, at(time.Minute))
	equal(t, "canvas title after a save without meta", got.Title, c.Title)

	n1b := n1
	n1b.X, n1b.Kind, n1b.Data, n1b.UpdatedAt = 99.75, "image", json.RawMessage(`{"src":"a.png"}`), at(time.Hour)
	n3 := node("n3", 0)
	n3.Data = nil // stored as {}
	e2 := edge("e2", "n1", "n3")
	settings := json.RawMessage(`{"bg":"#fff"}`)
	must(t, "SaveCheckpoint 3→5", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, FromSeq: 3, Seq: 5, At: base.Add(time.Hour),
		Meta:     &store.CanvasMeta{Title: "Renamed", Settings: settings},
		PutNodes: []store.Node{n1b, n3}, DeleteNodes: []string{"n2", "never-there"},
		PutEdges: []store.Edge{e2}, DeleteEdges: []string{"e1"},
	}))
	n3.Data = json.RawMessage("{}")
	equal(t, "checkpoint at 5", load(t, s, c.ID),
		store.Checkpoint{CanvasID: c.ID, Seq: 5, Nodes: []store.Node{n1b, n3}, Edges: []store.Edge{e2}, Comments: []store.Comment{}})
	got, err = s.Canvas(ctx, c.ID)
	isErr(t, "Canvas", err, nil)
	want := c
	want.Title, want.Settings, want.UpdatedAt = "Renamed", settings, at(time.Hour)
	equal(t, "canvas after a save with meta", got, want)
}

func testCheckpointStaleWriter(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "sam")
	c := mkCanvas(t, s, u.ID, 0)
	must(t, "SaveCheckpoint 0→4", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, Seq: 4, At: base, PutNodes: []store.Node{node("n1", 0)}}))
	before := load(t, s, c.ID)
	canvasBefore, _ := s.Canvas(ctx, c.ID)

	for _, from := range []uint64{0, 3, 5} {
		err := s.SaveCheckpoint(ctx, store.CheckpointDelta{
			CanvasID: c.ID, FromSeq: from, Seq: 9, At: base.Add(time.Hour),
			Meta:     &store.CanvasMeta{Title: "stale", Settings: json.RawMessage(`{}`)},
			PutNodes: []store.Node{node("n2", 0)}, DeleteNodes: []string{"n1"},
		})
		isErr(t, fmt.Sprintf("SaveCheckpoint from %d when at 4", from), err, store.ErrConflict)
	}
	equal(t, "checkpoint after stale saves", load(t, s, c.ID), before)
	canvasAfter, _ := s.Canvas(ctx, c.ID)
	equal(t, "canvas after stale saves", canvasAfter, canvasBefore)

	err := s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 4, Seq: 3, At: base})
	if err == nil {
		t.Errorf("SaveCheckpoint from 4 to 3: got nil; want an error")
	}
	equal(t, "checkpoint after a backwards save", load(t, s, c.ID), before)
}

// testCheckpointRace saves from the same seq from several goroutines at
// once, from 0 (no checkpoint row yet) and from 1: one must win.
func testCheckpointRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "rex")
	c := mkCanvas(t, s, u.ID, 0)
	const racers = 4
	for from := uint64(0); from < 2; from++ {
		errs := together(racers, func(i int) error {
			return s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: from, Seq: from + 1, At: base,
				PutNodes: []store.Node{node(fmt.Sprintf("from%d-racer%d", from, i), 0)}})
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if !errors.Is(err, store.ErrConflict) {
				t.Errorf("save from %d: got error %v; want nil or ErrConflict", from, err)
			}
		}
		cp := load(t, s, c.ID)
		if won != 1 || cp.Seq != from+1 || len(cp.Nodes) != int(from)+1 {
			t.Errorf("save from %d: got %d winners, seq %d, %d nodes; want 1, %d, %d", from, won, cp.Seq, len(cp.Nodes), from+1, from+1)
		}
	}
}

func testCheckpointOrderAndEdgeCases(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "olga")
	c := mkCanvas(t, s, u.ID, 0)

	// Ids order byte by byte, whatever the database's locale.
	ids := []string{"b", "B", "a", "_x", "a-1", "a1", "10", "9", "é", "Z", "aa"}
	var put []store.Node
	for _, id := range ids {
		put = append(put, node(id, 0))
	}
	// The last put of an id counts; an id both put and deleted is deleted.
	dupe := node("a", 0)
	dupe.Kind = "last"
	put = append(put, dupe, node("gone", 0))
	must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, Seq: 1 << 40, At: base, PutNodes: put, DeleteNodes: []string{"gone"},
		PutEdges:    []store.Edge{edge("e", "a", "b"), edge("E", "a", "b"), edge("e", "b", "a")},
		DeleteEdges: []string{"E"},
	}))
	cp := load(t, s, c.ID)
	slices.Sort(ids)
	var gotIDs []string
	for _, n := range cp.Nodes {
		gotIDs = append(gotIDs, n.ID)
		if n.ID == "a" && n.Kind != "last" {
			t.Errorf("node a put twice: got kind %q; want the last put's %q", n.Kind, "last")
		}
	}
	equal(t, "node ids", gotIDs, ids)
	equal(t, "edges", cp.Edges, []store.Edge{edge("e", "b", "a")})
	equal(t, "seq", cp.Seq, uint64(1<<40))
}

// testCheckpointLarge saves and reloads a delta of 5,000 nodes, then one
// that deletes 2,600 of them: more rows than one batch holds.
func testCheckpointLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "lara")
	c := mkCanvas(t, s, u.ID, 0)
	const count = 5000
	nodes := make([]store.Node, count)
	edges := make([]store.Edge, count/4)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("n%05d", i), time.Duration(i)*time.Millisecond)
		nodes[i].Data = json.RawMessage(`{"text":"` + strings.Repeat("x", i%50) + `"}`)
	}
	for i := range edges {
		edges[i] = edge(fmt.Sprintf("e%05d", i), nodes[i].ID, nodes[i+1].ID)
	}
	must(t, "SaveCheckpoint of 5,000 nodes", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, Seq: 1, At: base, PutNodes: nodes, PutEdges: edges}))
	sameCheckpoint(t, "5,000-node checkpoint", load(t, s, c.ID), store.Checkpoint{CanvasID: c.ID, Seq: 1, Nodes: nodes, Edges: edges})

	var gone []string
	for _, n := range nodes[:2600] {
		gone = append(gone, n.ID)
	}
	must(t, "SaveCheckpoint deleting 2,600 nodes", s.SaveCheckpoint(ctx, store.CheckpointDelta{
		CanvasID: c.ID, FromSeq: 1, Seq: 2, At: base, DeleteNodes: gone}))
	sameCheckpoint(t, "checkpoint after deleting 2,600 nodes", load(t, s, c.ID),
		store.Checkpoint{CanvasID: c.ID, Seq: 2, Nodes: nodes[2600:], Edges: edges})
}

// sameCheckpoint is equal for big checkpoints: it reports the seq, the
// lengths or the first node or edge that differ, not the whole checkpoint.
func sameCheckpoint(t *testing.T, what string, got, want store.Checkpoint) {
	t.Helper()
	equal(t, what+": canvas", got.CanvasID, want.CanvasID)
	equal(t, what+": seq", got.Seq, want.Seq)
	firstDiff(t, what+": nodes", got.Nodes, want.Nodes)
	firstDiff(t, what+": edges", got.Edges, want.Edges)
	firstDiff(t, what+": comments", got.Comments, want.Comments)
}

func firstDiff[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d; want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s, first difference at %d:\ngot  %+v;\nwant %+v", what, i, got[i], want[i])
			return
		}
	}
}

// testDeleteWhileSaving deletes canvases while a large save runs on them:
// the save succeeds first or finds no canvas, and neither deadlocks.
func testDeleteWhileSaving(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "dan")
	var nodes []store.Node
	for i := range 600 {
		nodes = append(nodes, node(fmt.Sprintf("n%03d", i), 0))
	}
	for round := range 6 {
		c := mkCanvas(t, s, u.ID, 0)
		must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, Seq: 1, At: base, PutNodes: nodes}))
		errs := together(2, func(i int) error {
			if i == 0 {
				return s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 1, Seq: 2, At: base, PutNodes: nodes})
			}
			if round%2 == 1 {
				time.Sleep(time.Millisecond) // let the save write nodes first
			}
			return s.DeleteCanvas(ctx, c.ID)
		})
		saveErr, deleteErr := errs[0], errs[1]
		if saveErr != nil && !errors.Is(saveErr, store.ErrNotFound) {
			t.Errorf("round %d: save during a delete: got %v; want nil or ErrNotFound", round, saveErr)
		}
		isErr(t, fmt.Sprintf("round %d: delete during a save", round), deleteErr, nil)
		_, err := s.LoadCheckpoint(ctx, c.ID)
		isErr(t, fmt.Sprintf("round %d: LoadCheckpoint after the delete", round), err, store.ErrNotFound)
	}
}
