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

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
)

// noAutoCheckpoint leaves checkpoints to Hub.Checkpoint and passivation.
func noAutoCheckpoint(c *Config) {
	c.CheckpointInterval = time.Hour
	c.CheckpointOps = 1 << 30
}

// TestCheckpointCoversEveryCommittedBatch: Hub.Checkpoint puts every batch
// committed before it in the store, while batches keep coming, and
// answers at once when the store already has them.
func TestCheckpointCoversEveryCommittedBatch(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			e := newEnvOn(t, kind)
			h := e.hub(noAutoCheckpoint)
			id := e.canvas("c1")
			mustSubmit(t, h, id, addNode("n1"))
			var acked atomic.Uint64
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					seq, err := h.Submit(ctx, id, "author-1", "", []canvas.Op{setText("n1", fmt.Sprint(i))})
					if err != nil {
						t.Errorf("submit: %v", err)
						return
					}
					acked.Store(seq)
				}
			})
			waitFor(t, "some batches", 5*time.Second, func() bool { return acked.Load() >= 20 })
			for range 3 {
				before := acked.Load()
				got, err := h.Checkpoint(ctx, id, before)
				if err != nil {
					t.Fatalf("Checkpoint: %v", err)
				}
				cp, err := e.store.LoadCheckpoint(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got < before || cp.Seq < got {
					t.Errorf("Checkpoint after seq %d acknowledged: got %d, store at %d; want both at least %d", before, got, cp.Seq, before)
				}
			}
			stop.Store(true)
			wg.Wait()

			last := acked.Load()
			got, err := h.Checkpoint(ctx, id, last)
			if err != nil || got != last {
				t.Fatalf("Checkpoint with nothing coming: got %d, %v; want %d", got, err, last)
			}
			cp, _ := e.store.LoadCheckpoint(ctx, id)
			want := snapshot(t, h, id)
			if cp.Seq != last || len(cp.Nodes) != 1 || string(cp.Nodes[0].Data) != mustJSON(t, want.Nodes[0].Data) {
				t.Errorf("store after Checkpoint: seq %d, nodes %+v; want seq %d and the node as the canvas has it", cp.Seq, cp.Nodes, last)
			}
			if got, err := h.Checkpoint(ctx, id, last); err != nil || got != last {
				t.Errorf("Checkpoint again: got %d, %v; want %d", got, err, last)
			}
			if _, err := h.Checkpoint(ctx, id, last+5); !errors.Is(err, ErrCheckpointBehind) {
				t.Errorf("Checkpoint past the canvas's seq: got %v; want ErrCheckpointBehind", err)
			}
			if _, err := h.Checkpoint(ctx, "no-such-canvas", 1); !errors.Is(err, canvases.ErrNotFound) {
				t.Errorf("Checkpoint of an unknown canvas: got %v; want canvases.ErrNotFound", err)
			}
		})
	}
}

// TestCheckpointLoadsALaggingCanvas: a canvas that is not live and whose
// journal holds batches its stored checkpoint lacks (a crash before its
// checkpoint) is loaded by Hub.Checkpoint, and the store gets them.
func TestCheckpointLoadsALaggingCanvas(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	id := e.canvas("c1")
	var batches []json.RawMessage
	for seq, op := range []canvas.Op{addNode("n1"), setText("n1", "only in the journal")} {
		b, err := json.Marshal(journal.Committed{Seq: uint64(seq + 1), Author: "author-1", At: 1, Ops: []canvas.Op{op}})
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	rec, _ := json.Marshal(journal.Record{Epoch: "crashed-owner", Batches: batches})
	if _, err := e.journal.Append(ctx, id, 0, "crashed-owner:1", rec); err != nil {
		t.Fatal(err)
	}
	h := e.hub(noAutoCheckpoint)
	got, err := h.Checkpoint(ctx, id, 2)
	if err != nil || got != 2 {
		t.Fatalf("Checkpoint: got %d, %v; want 2", got, err)
	}
	cp, err := e.store.LoadCheckpoint(ctx, id)
	if err != nil || cp.Seq != 2 || len(cp.Nodes) != 1 || string(cp.Nodes[0].Data) != `{"text":"only in the journal"}` {
		t.Fatalf("store after Checkpoint: %+v, %v; want seq 2 with n1's text from the journal", cp, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
