package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skerhq/sker/testkit"
)

// doctorProblem is one problem of `sker doctor --json`.
type doctorProblem struct {
	Canvas        string `json:"canvas"`
	Kind          string `json:"kind"`
	CheckpointSeq uint64 `json:"checkpoint_seq"`
	First         uint64 `json:"journal_first_seq"`
	Last          uint64 `json:"journal_last_seq"`
	Missing       struct{ From, To uint64 }
	Lost          struct{ From, To uint64 }
	Repaired      bool   `json:"repaired"`
	RepairError   string `json:"repair_error"`
}

type doctorReport struct {
	Problems  []doctorProblem `json:"problems"`
	Remaining int             `json:"problems_remaining"`
}

// TestDoctorRepairsAJournalGap: a store older than the journal's trimmed
// start (SQLite: an old copy of sker.db put back; PostgreSQL: the
// canvas's checkpoint rows deleted) leaves the canvas unable to load. The
// node says so (a log line naming the canvas, the load failure metrics,
// GET /cluster/canvases/:id, /ready's canvases_load_failing) while /ready
// stays 200; `sker doctor` names
// the canvas and the seqs lost and changes nothing; `sker doctor --repair`
// removes its journal, after which the canvas loads from its checkpoint
// and takes its next change at the next seq, and the doctor finds nothing.
func TestDoctorRepairsAJournalGap(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := NewSker(t, Options{Env: map[string]string{"CANVAS_HISTORY": "10"}})
		var old string
		doctorGap(t, s, 5, func() { // after the first stop: keep sker.db as it is at seq 5
			old = filepath.Join(t.TempDir(), "old.db")
			copyFileE2E(t, filepath.Join(s.DataDir, "sker.db"), old)
		}, func(string) { // put the old copy back
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(filepath.Join(s.DataDir, "sker.db"+suffix))
			}
			copyFileE2E(t, old, filepath.Join(s.DataDir, "sker.db"))
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := testkit.PostgresURL(t)
		s := NewSker(t, Options{DatabaseURL: url, Env: map[string]string{"CANVAS_HISTORY": "10"}})
		if res := s.Run("migrate"); res.Code != 0 {
			t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
		}
		doctorGap(t, s, 0, func() {}, func(canvasID string) { // the checkpoint lost: seq 0, no cards
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			noErr(t, err)
			defer conn.Close(ctx)
			for _, q := range []string{"DELETE FROM edges WHERE canvas_id = $1", "DELETE FROM nodes WHERE canvas_id = $1",
				"DELETE FROM checkpoints WHERE canvas_id = $1"} {
				_, err := conn.Exec(ctx, q, canvasID)
				noErr(t, err)
			}
		})
	})
}

// doctorGap runs the scenario; the store is rewound to checkpoint seq cp
// (keep runs after the first stop, rewind after the second).
func doctorGap(t *testing.T, s *Sker, cp uint64, keep func(), rewind func(canvasID string)) {
	ctx := t.Context()
	s.Start()
	c := s.NewClient()
	_, err := c.Register(ctx, "doctor@example.com", "doctor-password", "Doctor")
	noErr(t, err)
	cv, err := c.CreateCanvas(ctx, "Doctor")
	noErr(t, err)
	_, err = c.PostOps(ctx, cv.ID, "add", Op{Op: "node.add", ID: "n", Kind: "text", X: F(0), Y: F(0), Data: map[string]any{"v": 1}})
	noErr(t, err)
	setV := func(from, to int) {
		for v := from; v <= to; v++ {
			seq, err := c.PostOps(ctx, cv.ID, fmt.Sprint("v", v), Op{Op: "node.update", ID: "n", Set: map[string]any{"data.v": v}})
			noErr(t, err)
			if seq != uint64(v) {
				t.Fatalf("set v=%d: seq %d, want %d", v, seq, v)
			}
		}
	}
	setV(2, 5)
	s.Stop() // checkpoint at 5
	keep()
	s.Start()
	setV(6, 40)
	s.Stop() // checkpoint at 40; the journal is trimmed below the last 10 batches
	rewind(cv.ID)

	s.Start()
	if _, err := c.GetCanvas(ctx, cv.ID); err == nil {
		t.Fatal("GET the canvas whose journal does not continue its checkpoint: 200, want 503")
	} else {
		wantAPIError(t, "GET the gapped canvas", err, http.StatusServiceUnavailable, "unavailable")
	}
	waitForE2E(t, "the log line naming the canvas", func() bool {
		return s.LogContains("canvas cannot load") && s.LogContains(cv.ID) && s.LogContains("journal_gap")
	})
	metrics := getText(t, s, "/metrics")
	for _, want := range []string{`sker_canvas_load_failures_total{reason="journal_gap"}`, "sker_canvases_load_failing 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, checks, err := c.Ready(ctx); err != nil || code != http.StatusOK {
		t.Errorf("/ready with one canvas that cannot load: %d %v %v; want 200 (one canvas does not take the node out)", code, checks, err)
	}
	if ready := getText(t, s, "/ready"); !strings.Contains(ready, `"canvases_load_failing":{"count":1`) ||
		!strings.Contains(ready, `"id":"`+cv.ID+`"`) || !strings.Contains(ready, `"reason":"journal_gap"`) {
		t.Errorf("/ready = %s; want canvases_load_failing naming %s with reason journal_gap", ready, cv.ID)
	}
	place := getText(t, s, "/cluster/canvases/"+cv.ID)
	if !strings.Contains(place, `"load_failure"`) || !strings.Contains(place, `"journal_gap"`) {
		t.Errorf("GET /cluster/canvases/%s = %s; want its load_failure with reason journal_gap", cv.ID, place)
	}
	// This run logged the canvas's failure as an error, which Stop takes
	// for a fault of the run: end it with kill -9 (the doctor then also
	// runs after a crash).
	s.Kill()

	// The doctor names the canvas and the lost seqs, and changes nothing.
	for range 2 {
		res := s.Run("doctor")
		if res.Code != 1 || !strings.Contains(res.Stdout, cv.ID) || !strings.Contains(res.Stdout, "CANNOT LOAD") ||
			!strings.Contains(res.Stdout, fmt.Sprintf("repair loses seqs %d–40", cp+1)) {
			t.Fatalf("sker doctor: code %d, stdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		t.Logf("sker doctor:\n%s", res.Stdout)
	}
	rep := runDoctorJSON(t, s, 1)
	if len(rep.Problems) != 1 {
		t.Fatalf("sker doctor --json: %+v, want one problem", rep)
	}
	p := rep.Problems[0]
	if p.Canvas != cv.ID || p.Kind != "gap" || p.CheckpointSeq != cp || p.Last != 40 || p.First <= cp+1 ||
		p.Missing.From != cp+1 || p.Missing.To != p.First-1 || p.Lost.From != cp+1 || p.Lost.To != 40 || p.Repaired {
		t.Fatalf("sker doctor --json problem %+v; want canvas %s, a gap after checkpoint %d, lost %d–40", p, cv.ID, cp, cp+1)
	}

	res := s.Run("doctor", "--repair")
	if res.Code != 0 || !strings.Contains(res.Stdout, "repaired") {
		t.Fatalf("sker doctor --repair: code %d, stdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	t.Logf("sker doctor --repair:\n%s", res.Stdout)
	if rep := runDoctorJSON(t, s, 0); len(rep.Problems) != 0 {
		t.Fatalf("sker doctor after the repair: %+v, want no problem", rep)
	}
	if res := s.Run("doctor"); res.Code != 0 || !strings.Contains(res.Stdout, "no problems found") {
		t.Fatalf("sker doctor after the repair: code %d, stdout:\n%s", res.Code, res.Stdout)
	}

	s.Start()
	got, err := c.GetCanvas(ctx, cv.ID)
	noErr(t, err)
	if got.Seq == nil || *got.Seq != cp {
		t.Fatalf("the repaired canvas loads at seq %v, want its checkpoint's %d", got.Seq, cp)
	}
	wantNodes := 1
	if cp == 0 {
		wantNodes = 0
	}
	if len(got.Nodes) != wantNodes {
		t.Fatalf("the repaired canvas has %d cards, want %d (its checkpoint's)", len(got.Nodes), wantNodes)
	}
	seq, err := c.PostOps(ctx, cv.ID, "after-repair", Op{Op: "node.add", ID: "m", Kind: "text", X: F(0), Y: F(0), Data: map[string]any{"v": 0}})
	noErr(t, err)
	if seq != cp+1 {
		t.Fatalf("first change after the repair: seq %d, want %d", seq, cp+1)
	}
	if m := getText(t, s, "/metrics"); !strings.Contains(m, "sker_canvases_load_failing 0") {
		t.Errorf("/metrics after the repair lacks sker_canvases_load_failing 0")
	}
	s.Stop()
}

func runDoctorJSON(t *testing.T, s *Sker, wantCode int) doctorReport {
	t.Helper()
	res := s.Run("doctor", "--json")
	var rep doctorReport
	if res.Code != wantCode || json.Unmarshal([]byte(res.Stdout), &rep) != nil {
		t.Fatalf("sker doctor --json: code %d (want %d), stdout:\n%s\nstderr:\n%s", res.Code, wantCode, res.Stdout, res.Stderr)
	}
	return rep
}

// getText GETs path on s from loopback and returns the body of a 200.
func getText(t *testing.T, s *Sker, path string) string {
	t.Helper()
	resp, err := s.HTTP().Get(s.URL() + path)
	noErr(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	noErr(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

func waitForE2E(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// copyFileE2E copies a database file of a stopped node, with its WAL if
// it has one.
func copyFileE2E(t *testing.T, src, dst string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if suffix != "" && os.IsNotExist(err) {
			continue
		}
		noErr(t, err)
		noErr(t, os.WriteFile(dst+suffix, b, 0o600))
	}
}
