package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// doctorBackend is a store the doctor reads and the test writes.
type doctorBackend interface {
	store.Store
	doctorStore
}

// TestDoctor: on both stores, against a real JetStream journal, the
// doctor finds the canvas whose journal does not continue its checkpoint
// (with the seqs lost) and the journal's orphan, leaves the canvases that
// replay alone, changes nothing without repair, and with it removes the
// journals of both, after which it finds nothing; a writer that had read
// the removed journal is fenced.
func TestDoctor(t *testing.T) {
	for name, open := range map[string]func(*testing.T) doctorBackend{
		"sqlite": func(t *testing.T) doctorBackend {
			s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(t *testing.T) doctorBackend {
			url := testkit.PostgresURL(t)
			if _, err := store.MigratePostgres(t.Context(), url); err != nil {
				t.Fatal(err)
			}
			s, err := store.OpenPostgres(t.Context(), url, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	} {
		t.Run(name, func(t *testing.T) { testDoctor(t, open(t)) })
	}
}

func testDoctor(t *testing.T, st doctorBackend) {
	ctx := t.Context()
	_, js := testkit.JetStream(t)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	owner := store.User{ID: "u1", Email: "u1@example.com", Name: "U", PasswordHash: "h", CreatedAt: now}
	must(t, st.CreateUser(ctx, owner))
	canvas := func(id string, cp uint64) {
		t.Helper()
		must(t, st.CreateCanvas(ctx, store.Canvas{ID: id, Title: id, Settings: []byte(`{}`), CreatedBy: owner.ID, CreatedAt: now, UpdatedAt: now}, owner.ID))
		if cp > 0 {
			must(t, st.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: id, Seq: cp, At: now}))
		}
	}
	canvas("replays", 0)    // journal 1–3: replays
	canvas("ahead", 2)      // journal 1–5: replays 3–5
	canvas("gap", 2)        // journal 5–7: 3–4 missing
	canvas("hole", 2)       // journal 1–3, 5: 4 missing
	canvas("behind", 9)     // journal 1–4: covered
	canvas("no-journal", 3) // nothing in the journal
	appendBatches(t, j, "replays", 1, 3)
	appendBatches(t, j, "ahead", 1, 5)
	appendBatches(t, j, "gap", 5, 7)
	appendBatches(t, j, "hole", 1, 3)
	appendBatches(t, j, "hole", 5, 5)
	appendBatches(t, j, "behind", 1, 4)
	appendBatches(t, j, "orphan", 1, 2)

	rep, err := Diagnose(ctx, st, j)
	must(t, err)
	want := map[string]Problem{
		"gap":    {Kind: ProblemGap, CheckpointSeq: 2, JournalFirstSeq: 5, JournalLastSeq: 7, Missing: SeqRange{3, 4}, Lost: SeqRange{3, 7}},
		"hole":   {Kind: ProblemGap, CheckpointSeq: 2, JournalFirstSeq: 1, JournalLastSeq: 5, Missing: SeqRange{4, 4}, Lost: SeqRange{3, 5}},
		"orphan": {Kind: ProblemOrphan, JournalFirstSeq: 1, JournalLastSeq: 2, Lost: SeqRange{1, 2}},
	}
	checkProblems(t, rep, want)
	if rep.Canvases != 6 || rep.JournalCanvases != 6 || rep.Replays != 2 {
		t.Errorf("report counts canvases %d, journal canvases %d, replays %d; want 6, 6, 2", rep.Canvases, rep.JournalCanvases, rep.Replays)
	}
	// A diagnosis changes nothing.
	again, err := Diagnose(ctx, st, j)
	must(t, err)
	checkProblems(t, again, want)

	// A canvas whose journal changes between the check and the repair is
	// left alone.
	appendBatches(t, j, "hole", 6, 6)
	gapLast, err := j.Last(ctx, "gap")
	must(t, err)
	Repair(ctx, st, j, &rep)
	if rep.ProblemsRemained != 1 {
		t.Fatalf("after repair %d problems remain, want 1 (the changed one): %+v", rep.ProblemsRemained, rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Repaired != (p.Canvas != "hole") {
			t.Errorf("canvas %s: repaired %v (%s)", p.Canvas, p.Repaired, p.RepairError)
		}
	}
	// A stale writer of a removed journal is fenced.
	if _, err := j.Append(ctx, "gap", gapLast, "stale", []byte(`{"epoch":"stale"}`)); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("append after the repair expecting the old last record: %v, want ErrFenced", err)
	}
	rep, err = Diagnose(ctx, st, j)
	must(t, err)
	checkProblems(t, rep, map[string]Problem{
		"hole": {Kind: ProblemGap, CheckpointSeq: 2, JournalFirstSeq: 1, JournalLastSeq: 6, Missing: SeqRange{4, 4}, Lost: SeqRange{3, 6}},
	})
	Repair(ctx, st, j, &rep)
	rep, err = Diagnose(ctx, st, j)
	must(t, err)
	checkProblems(t, rep, map[string]Problem{})
	// A repaired canvas's journal starts anew, as after a restore.
	if last, err := j.Last(ctx, "gap"); err != nil || last != 0 {
		t.Fatalf("journal of the repaired canvas: last %d, %v; want empty", last, err)
	}
}

func checkProblems(t *testing.T, rep DoctorReport, want map[string]Problem) {
	t.Helper()
	got := map[string]Problem{}
	for _, p := range rep.Problems {
		got[p.Canvas] = p
	}
	if len(got) != len(want) {
		t.Errorf("problems %+v, want %d of them (%v)", rep.Problems, len(want), want)
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("canvas %s: no problem reported, want %s", id, w.Kind)
			continue
		}
		if g.Kind != w.Kind || g.CheckpointSeq != w.CheckpointSeq || g.JournalFirstSeq != w.JournalFirstSeq ||
			g.JournalLastSeq != w.JournalLastSeq || g.Missing != w.Missing || g.Lost != w.Lost {
			t.Errorf("canvas %s: %+v, want %+v", id, g, w)
		}
	}
}

// appendBatches appends one record per batch, seqs from to to, with the
// fence the journal expects.
func appendBatches(t *testing.T, j *journal.Journal, canvasID string, from, to uint64) {
	t.Helper()
	ctx := context.Background()
	for seq := from; seq <= to; seq++ {
		last, err := j.Last(ctx, canvasID)
		must(t, err)
		b, _ := json.Marshal(journal.Committed{Seq: seq, Author: "u1", At: 1})
		rec, _ := json.Marshal(journal.Record{Epoch: "e", Batches: []json.RawMessage{b}})
		if _, err := j.Append(ctx, canvasID, last, fmt.Sprintf("%s:%d", canvasID, seq), rec); err != nil {
			t.Fatal(err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
