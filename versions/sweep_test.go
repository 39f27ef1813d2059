package versions_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/versions"
)

// failingDeletes is the store with DeleteVersions of one canvas failing
// once, as a store that does not answer would.
type failingDeletes struct {
	versions.Sweeper
	canvasID string
	err      error
	failed   bool
}

func (f *failingDeletes) DeleteVersions(ctx context.Context, canvasID string, seqs []uint64, kind string) (int64, error) {
	if canvasID == f.canvasID && !f.failed {
		f.failed = true
		return 0, f.err
	}
	return f.Sweeper.DeleteVersions(ctx, canvasID, seqs, kind)
}

func TestSweep(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { testSweep(t, newEnv(t, kind)) })
	}
}

// testSweep: with a retention of an hour, the versions kept two hours ago
// go and the one kept now stays; a canvas whose deletes fail is logged
// with its id and the cause, the others are swept, and the next Sweep
// deletes what it left.
func testSweep(t *testing.T, e *env) {
	ctx := t.Context()
	retention := time.Hour
	at := func(now func() time.Time) *versions.Service {
		svc, err := versions.New(versions.Config{Store: e.st, Journal: e.j, Canvases: e.hub, Retention: retention, Logger: testkit.Logger(), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	aged := at(func() time.Time { return time.Now().Add(-2 * retention) })
	keep := func(svc *versions.Service, id, kind, name string) {
		t.Helper()
		if _, err := svc.Keep(ctx, id, kind, name, ""); err != nil {
			t.Fatalf("Keep %s %q of %s: %v", kind, name, id, err)
		}
	}
	submit := func(id, node string) {
		t.Helper()
		if _, err := e.hub.Submit(ctx, id, "u", "", []canvas.Op{{Op: canvas.OpNodeAdd, ID: node, Kind: "note"}}); err != nil {
			t.Fatalf("Submit to %s: %v", id, err)
		}
	}
	cv, err := e.st.Canvas(ctx, e.id)
	if err != nil {
		t.Fatal(err)
	}
	other := uuid.NewString()
	now := time.Now().UTC()
	if err := e.st.CreateCanvas(ctx, store.Canvas{ID: other, Title: "Other", CreatedBy: cv.CreatedBy, CreatedAt: now, UpdatedAt: now}, cv.CreatedBy); err != nil {
		t.Fatal(err)
	}
	submit(e.id, "a")
	keep(aged, e.id, store.VersionNamed, "old") // seq 1, two hours ago
	submit(e.id, "b")
	keep(aged, e.id, store.VersionAuto, "") // seq 2, two hours ago
	keep(e.svc, e.id, store.VersionNamed, "fresh")
	keep(aged, other, store.VersionAI, "") // seq 0, two hours ago

	logs := &testkit.LogBuffer{}
	sweeper, err := versions.New(versions.Config{Store: e.st, Journal: e.j, Canvases: e.hub, Retention: retention,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fault := errors.New("the store did not answer")
	sw := &failingDeletes{Sweeper: e.st, canvasID: other, err: fault}

	n, err := sweeper.Sweep(ctx, sw)
	if !errors.Is(err, fault) || !strings.Contains(err.Error(), other) {
		t.Errorf("first Sweep: got error %v; want the injected fault, naming canvas %s", err, other)
	}
	if n != 2 {
		t.Errorf("first Sweep: deleted %d; want 2 (the old named and automatic versions of %s)", n, e.id)
	}
	if got := timeline(t, e, e.id); got != "2 named fresh" {
		t.Errorf("timeline of %s after the sweep: got %q; want only the fresh named version, %q", e.id, got, "2 named fresh")
	}
	if got := timeline(t, e, other); got != "0 ai " {
		t.Errorf("timeline of %s after its failed sweep: got %q; want its ai version still there, %q", other, got, "0 ai ")
	}
	log := logs.String()
	if !strings.Contains(log, "version sweep: canvas skipped") || !strings.Contains(log, "canvas_id="+other) || !strings.Contains(log, fault.Error()) {
		t.Errorf("log after a failed sweep:\n%s\nwant a line naming canvas_id=%s and %q", log, other, fault)
	}

	// The next Sweep (the next interval) deletes what the failure left.
	if n, err := sweeper.Sweep(ctx, sw); err != nil || n != 1 {
		t.Errorf("second Sweep: got %d, %v; want 1, no error", n, err)
	}
	if got := timeline(t, e, other); got != "" {
		t.Errorf("timeline of %s after the second sweep: got %q; want none", other, got)
	}
	if n, err := sweeper.Sweep(ctx, sw); err != nil || n != 0 {
		t.Errorf("third Sweep: got %d, %v; want 0, no error", n, err)
	}
	if got := timeline(t, e, e.id); got != "2 named fresh" {
		t.Errorf("timeline of %s after three sweeps: got %q; want %q", e.id, got, "2 named fresh")
	}
}

// timeline is the canvas's kept points as "seq kind name", one a line.
func timeline(t *testing.T, e *env, canvasID string) string {
	t.Helper()
	tl, err := e.svc.Timeline(t.Context(), canvasID)
	if err != nil {
		t.Fatalf("Timeline of %s: %v", canvasID, err)
	}
	var lines []string
	for _, p := range tl {
		lines = append(lines, fmt.Sprintf("%d %s %s", p.Seq, p.Kind, p.Name))
	}
	return strings.Join(lines, "\n")
}
