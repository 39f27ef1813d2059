package versions_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/versions"
)

type env struct {
	st  store.Store
	j   *journal.Journal
	hub *actors.Hub
	svc *versions.Service
	id  string
}

func newEnv(t *testing.T, kind string, hubEdit ...func(*actors.Config, **versions.Service)) *env {
	t.Helper()
	ctx := context.Background()
	nc, js := testkit.JetStream(t)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	var st store.Store
	switch kind {
	case "sqlite":
		st, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sker.db"))
	case "postgres":
		url := testkit.PostgresURL(t)
		if _, err = store.MigratePostgres(ctx, url); err == nil {
			st, err = store.OpenPostgres(ctx, url, "")
		}
	}
	if err != nil {
		t.Fatalf("store %s: %v", kind, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var svc *versions.Service
	cfg := actors.Config{Store: st, Journal: j, Conn: nc, Logger: testkit.Logger()}
	for _, e := range hubEdit {
		e(&cfg, &svc)
	}
	hub, err := actors.NewHub(cfg)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(context.Background()) })
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: "u-" + testkit.UniqueName("v"), Email: testkit.UniqueName("v") + "@example.com", Name: "V", PasswordHash: "x", CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	id := uuid.NewString()
	if err := st.CreateCanvas(ctx, store.Canvas{ID: id, Title: "Start", CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}, u.ID); err != nil {
		t.Fatalf("CreateCanvas: %v", err)
	}
	svc, err = versions.New(versions.Config{Store: st, Journal: j, Canvases: hub, Logger: testkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, j: j, hub: hub, svc: svc, id: id}
}

// commit submits the random history's batches through the canvas
// contract, keeping a version at each seq in points.
func (e *env) commit(t *testing.T, batches []journal.Committed, points map[uint64]bool) {
	t.Helper()
	ctx := t.Context()
	// The canvas as created, as creating a canvas keeps it (KeepBase).
	if _, err := e.svc.Keep(ctx, e.id, store.VersionAuto, "", ""); err != nil {
		t.Fatalf("Keep at 0: %v", err)
	}
	for _, b := range batches {
		seq, err := e.hub.Submit(ctx, e.id, b.Author, "", b.Ops)
		if err != nil || seq != b.Seq {
			t.Fatalf("Submit %d: got %d, %v", b.Seq, seq, err)
		}
		if points[seq] {
			if _, err := e.svc.Keep(ctx, e.id, store.VersionAuto, "", ""); err != nil {
				t.Fatalf("Keep at %d: %v", seq, err)
			}
		}
	}
}

// journaled reads every batch the journal holds for the canvas.
func (e *env) journaled(t *testing.T) []journal.Committed {
	t.Helper()
	var out []journal.Committed
	_, err := e.j.Read(t.Context(), e.id, func(_ uint64, rec journal.Record) error {
		for _, raw := range rec.Batches {
			var c journal.Committed
			if err := jsonUnmarshal(raw, &c); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the journal: %v", err)
	}
	return out
}

func TestService(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Run("AnySeqRebuilds", func(t *testing.T) { testAnySeq(t, newEnv(t, kind)) })
			t.Run("AfterTrim", func(t *testing.T) { testAfterTrim(t, newEnv(t, kind)) })
			t.Run("RestoreTwice", func(t *testing.T) { testRestoreTwice(t, newEnv(t, kind)) })
			t.Run("AIVersion", func(t *testing.T) { testAIVersion(t, newEnv(t, kind)) })
			t.Run("CheckpointPoints", func(t *testing.T) { testCheckpointPoints(t, kind) })
		})
	}
}

func testAnySeq(t *testing.T, e *env) {
	batches := randomHistory(t, rand.New(rand.NewPCG(11, 12)), 120)
	e.commit(t, batches, map[uint64]bool{30: true, 77: true})
	batches = e.journaled(t) // as committed, with the canvas's own times
	for seq := uint64(0); seq <= 120; seq++ {
		st, err := e.svc.At(t.Context(), e.id, seq)
		if err != nil {
			t.Fatalf("At %d: %v", seq, err)
		}
		want := replayed(t, batches, seq)
		want.ID = e.id
		if got, want := encoded(t, st), encoded(t, want); got != want {
			t.Fatalf("At %d:\ngot  %s\nwant %s", seq, got, want)
		}
	}
	if _, err := e.svc.At(t.Context(), e.id, 121); !errors.Is(err, versions.ErrFutureSeq) {
		t.Errorf("At 121: got %v; want ErrFutureSeq", err)
	}
	tl, err := e.svc.Timeline(t.Context(), e.id)
	if err != nil || len(tl) != 3 || tl[1].Seq != 30 || tl[2].Seq != 77 || len(tl[2].Authors) == 0 {
		t.Errorf("Timeline: got %+v, %v; want points 0, 30 and 77 with authors", tl, err)
	}
}

func testAfterTrim(t *testing.T, e *env) {
	batches := randomHistory(t, rand.New(rand.NewPCG(13, 14)), 80)
	e.commit(t, batches, map[uint64]bool{20: true, 50: true, 60: true})
	batches = e.journaled(t)
	// Trim every record up to batch 60: stream sequences are the
	// journal's own, so find the record that holds batch 61.
	var keepFrom uint64
	_, err := e.j.Read(t.Context(), e.id, func(ss uint64, rec journal.Record) error {
		if keepFrom == 0 && len(rec.Batches) > 0 && seqOf(t, rec.Batches[0]) > 60 {
			keepFrom = ss
		}
		return nil
	})
	if err != nil || keepFrom == 0 {
		t.Fatalf("journal: %v (keepFrom %d)", err, keepFrom)
	}
	if err := e.j.Trim(t.Context(), e.id, keepFrom); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{0, 20, 50, 60, 61, 70, 80} {
		st, err := e.svc.At(t.Context(), e.id, seq)
		if err != nil {
			t.Fatalf("At %d after the trim: %v", seq, err)
		}
		want := replayed(t, batches, seq)
		want.ID = e.id
		if encoded(t, st) != encoded(t, want) {
			t.Fatalf("At %d after the trim: the state differs", seq)
		}
	}
	for _, seq := range []uint64{10, 21, 55} { // 0 to 60 are trimmed
		if _, err := e.svc.At(t.Context(), e.id, seq); !errors.Is(err, versions.ErrNotRebuildable) {
			t.Errorf("At %d (trimmed, between points): got %v; want ErrNotRebuildable", seq, err)
		}
	}
}

func seqOf(t *testing.T, raw []byte) uint64 {
	t.Helper()
	var c journal.Committed
	if err := jsonUnmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Seq
}

func testRestoreTwice(t *testing.T, e *env) {
	batches := randomHistory(t, rand.New(rand.NewPCG(15, 16)), 100)
	e.commit(t, batches, nil)
	batches = e.journaled(t)
	ctx := t.Context()
	before, _ := e.hub.Snapshot(ctx, e.id)
	seq, err := e.svc.Restore(ctx, e.id, "restorer", 40)
	if err != nil || seq != 101 {
		t.Fatalf("Restore to 40: got %d, %v; want 101", seq, err)
	}
	now, _ := e.hub.Snapshot(ctx, e.id)
	then := replayed(t, batches, 40)
	if d := versions.Compare(mustState(t, now), then); !d.Empty() {
		t.Fatalf("after Restore to 40: differs %+v", d)
	}
	if _, err := e.svc.Restore(ctx, e.id, "restorer", 100); err != nil {
		t.Fatalf("Restore to 100: %v", err)
	}
	again, _ := e.hub.Snapshot(ctx, e.id)
	if d := versions.Compare(mustState(t, again), mustState(t, before)); !d.Empty() {
		t.Fatalf("after the second restore: differs from before the first %+v", d)
	}
	if again.Seq != 102 {
		t.Errorf("seq after two restores: got %d; want 102 (two ordinary batches)", again.Seq)
	}
}

func testAIVersion(t *testing.T, e *env) {
	batches := randomHistory(t, rand.New(rand.NewPCG(17, 18)), 10)
	e.commit(t, batches, nil)
	finish := versions.AIFinisher{Service: e.svc, Next: e.hub}.FinishAIRun
	// No card runs this run: the answer is dropped, the version is kept.
	err := finish(t.Context(), e.id, "n1", "run-1", canvases.AIResult{Status: "done", Text: "hi"})
	if !errors.Is(err, canvases.ErrStaleRun) {
		t.Logf("FinishAIRun: %v", err)
	}
	tl, err := e.svc.Timeline(t.Context(), e.id)
	if err != nil || len(tl) != 2 || tl[1].Kind != store.VersionAI || tl[1].Seq != 10 {
		t.Fatalf("Timeline: got %+v, %v; want one ai version at 10", tl, err)
	}
}

func mustState(t *testing.T, ex canvas.Export) *canvas.State {
	t.Helper()
	st, err := versions.FromExport(ex)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testCheckpointPoints: checkpoints keep automatic versions, at most one
// per spacing, before the journal is trimmed.
func testCheckpointPoints(t *testing.T, kind string) {
	e := newEnv(t, kind, func(c *actors.Config, svc **versions.Service) {
		c.CheckpointInterval = 50 * time.Millisecond
		c.PointSpacing = time.Hour
		c.KeepPoint = func(ctx context.Context, id string, ex canvas.Export) error { return (*svc).KeepPoint(ctx, id, ex) }
	})
	batches := randomHistory(t, rand.New(rand.NewPCG(19, 20)), 20)
	for _, b := range batches {
		if _, err := e.hub.Submit(t.Context(), e.id, b.Author, "", b.Ops); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tl, err := e.svc.Timeline(t.Context(), e.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) == 1 && tl[0].Kind == store.VersionAuto && tl[0].Seq > 0 {
			break
		}
		if len(tl) > 1 || time.Now().After(deadline) {
			t.Fatalf("Timeline: got %+v; want one automatic point", tl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// More checkpoints within the spacing keep no other point.
	for _, b := range randomHistory(t, rand.New(rand.NewPCG(21, 22)), 1) {
		_, _ = e.hub.Submit(t.Context(), e.id, b.Author, "", b.Ops)
	}
	time.Sleep(300 * time.Millisecond)
	if tl, _ := e.svc.Timeline(t.Context(), e.id); len(tl) != 1 {
		t.Errorf("Timeline after another checkpoint within the spacing: got %d points; want 1", len(tl))
	}
}
