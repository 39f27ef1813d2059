package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
)

// TestLoadFailureIsVisible: a canvas whose journal does not continue its
// checkpoint answers unavailable, and the hub says so: the canvas with
// the reason journal_gap, the failure counter and the gauge of failing
// canvases; once its journal is mended it loads, takes the next seq after
// its checkpoint, and the gauge falls back to 0.
func TestLoadFailureIsVisible(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	h := e.hub(func(c *Config) { c.Registerer = reg })
	id := e.canvas("gapped")
	ctx := context.Background()
	for seq := uint64(3); seq <= 4; seq++ { // 1 and 2 are in neither
		last, err := e.journal.Last(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(journal.Committed{Seq: seq, Author: "a", At: 1})
		rec, _ := json.Marshal(journal.Record{Epoch: "old", Batches: []json.RawMessage{b}})
		if _, err := e.journal.Append(ctx, id, last, fmt.Sprint("old:", seq), rec); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := h.Submit(ctx, id, "a", "", []canvas.Op{addNode("n1")}); !errors.Is(err, canvases.ErrUnavailable) {
			t.Fatalf("submit to the gapped canvas: %v, want ErrUnavailable", err)
		}
		// A submit that reaches the failed actor before it has retired is
		// answered by it without a new attempt: wait for it to go.
		waitFor(t, "the failed canvas actor to stop", 5*time.Second, func() bool {
			n, err := h.Active(ctx)
			return err == nil && n == 0
		})
	}
	f, ok := h.LoadFailure(id)
	if !ok || f.Reason != ReasonJournalGap || f.Attempts != 2 {
		t.Fatalf("LoadFailure = %+v, %v; want journal_gap after 2 attempts", f, ok)
	}
	if n := testutil.ToFloat64(h.failures.total.WithLabelValues(ReasonJournalGap)); n != 2 {
		t.Errorf("sker_canvas_load_failures_total{reason=journal_gap} = %v, want 2", n)
	}
	if n := testutil.ToFloat64(h.failures.failing); n != 1 {
		t.Errorf("sker_canvases_load_failing = %v, want 1", n)
	}
	if err := e.journal.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if seq := mustSubmit(t, h, id, addNode("n1")); seq != 1 {
		t.Fatalf("first change after the repair got seq %d, want 1", seq)
	}
	if _, ok := h.LoadFailure(id); ok || len(h.LoadFailures()) != 0 {
		t.Errorf("after a load the failure is still listed: %v", h.LoadFailures())
	}
	if n := testutil.ToFloat64(h.failures.failing); n != 0 {
		t.Errorf("sker_canvases_load_failing = %v after the load, want 0", n)
	}
}
