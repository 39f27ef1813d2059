package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// journalTrouble are log fragments of a JetStream store that another
// server wrote to behind this one's back.
var journalTrouble = []string{"inconsisten", "corrupt", "could not locate msg block", "prior state file"}

// pid is the process id of the running server.
func (s *Sker) pid() int {
	s.t.Helper()
	cmd, _ := s.current()
	if cmd == nil {
		s.t.Fatal("pid: sker is not running")
	}
	return cmd.Process.Pid
}

// wantSecondServeRefused runs a second `sker serve` on s's DATA_DIR while
// s runs and checks that it stops at once, non-zero, naming the process
// that holds the folder, before it starts a NATS server of its own.
func wantSecondServeRefused(t *testing.T, s *Sker) {
	t.Helper()
	res := s.RunFor(30*time.Second, "serve")
	t.Logf("second serve: code %d, stderr %s", res.Code, res.Stderr)
	if res.Code == 0 {
		t.Errorf("second serve on the same DATA_DIR: exit code 0; want non-zero. stderr:\n%s", res.Stderr)
	}
	for _, want := range []string{"DATA_DIR " + s.DataDir, "in use by sker serve", fmt.Sprintf("(pid %d ", s.pid()), "started "} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("second serve: stderr\n%s\nwant a message containing %q", res.Stderr, want)
		}
	}
	if strings.Contains(res.Stderr, "Starting JetStream") || strings.Contains(res.Stderr, "panic:") {
		t.Errorf("second serve: started JetStream or panicked before refusing:\n%s", res.Stderr)
	}
}

// wantJournalClean checks that no run of s logged a damaged JetStream
// store.
func wantJournalClean(t *testing.T, s *Sker) {
	t.Helper()
	for _, bad := range journalTrouble {
		if s.LogContains(bad) {
			t.Errorf("a run of sker logged %q: the journal was damaged", bad)
		}
	}
}

// wantNodes checks a canvas's node ids (sorted) and seq.
func wantNodes(t *testing.T, c *Client, canvasID string, nodes []string, seq uint64) {
	t.Helper()
	cv, err := c.GetCanvas(t.Context(), canvasID)
	noErr(t, err)
	var got []string
	for _, n := range cv.Nodes {
		got = append(got, n.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, nodes) || cv.Seq == nil || *cv.Seq != seq {
		t.Errorf("canvas %s: nodes %v at seq %v; want %v at seq %d", canvasID, got, cv.Seq, nodes, seq)
	}
}

// TestSecondServeRefused: a second `sker serve` on a DATA_DIR in use
// refuses to start and says which process holds it; the first server
// keeps acknowledging writes, and its journal is sound after a restart.
func TestSecondServeRefused(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *Sker) {
		ctx := t.Context()
		s.Start()
		c := s.NewClient()
		_, err := c.Register(ctx, alice.email, alice.password, alice.name)
		noErr(t, err)
		cv, err := c.CreateCanvas(ctx, "locked")
		noErr(t, err)
		_, err = c.PostOps(ctx, cv.ID, "b1", Op{Op: "node.add", ID: "a", Kind: "text", X: F(0), Y: F(0)})
		noErr(t, err)

		wantSecondServeRefused(t, s)

		seq, err := c.PostOps(ctx, cv.ID, "b2", Op{Op: "node.add", ID: "b", Kind: "text", X: F(0), Y: F(100)})
		if err != nil || seq != 2 {
			t.Fatalf("write after the refused serve: seq %d, %v; want seq 2 acknowledged", seq, err)
		}
		wantNodes(t, c, cv.ID, []string{"a", "b"}, 2)
		s.Stop()
		s.Start()
		wantNodes(t, c, cv.ID, []string{"a", "b"}, 2)
		wantJournalClean(t, s)
	})
}

// TestSeedAndMigrateBesideServe: `sker migrate` and `sker seed` run while
// a server holds the DATA_DIR, without opening its journal, and the
// server lists, opens and edits the seeded canvas.
func TestSeedAndMigrateBesideServe(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *Sker) {
		ctx := t.Context()
		s.Start()

		res := s.Run("migrate")
		if res.Code != 0 || !strings.Contains(res.Stdout, "up to date") {
			t.Errorf("sker migrate beside serve: code %d, stdout %q, stderr %q; want code 0 and \"the store is up to date\"",
				res.Code, res.Stdout, res.Stderr)
		}
		res = s.Run("seed")
		t.Logf("sker seed beside serve:\n%s", res.Stdout)
		if res.Code != 0 {
			t.Fatalf("sker seed beside serve: code %d, stdout %q, stderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		if strings.Contains(res.Stderr, "Starting JetStream") {
			t.Errorf("sker seed opened a journal of its own:\n%s", res.Stderr)
		}
		um, cm := seedUserRE.FindStringSubmatch(res.Stdout), seedCanvasRE.FindStringSubmatch(res.Stdout)
		if um == nil || cm == nil {
			t.Fatalf("sker seed: stdout %q; want lines %q and %q", res.Stdout, seedUserRE, seedCanvasRE)
		}
		email, password, title, id := um[1], um[2], cm[1], cm[2]

		demo := s.NewClient()
		_, err := demo.Login(ctx, email, password)
		noErr(t, err)
		checkSeeded(t, demo, id, title)
		seq, err := demo.PostOps(ctx, id, "more", Op{Op: "node.add", ID: "more", Kind: "note", X: F(0), Y: F(400)})
		if err != nil || seq != 2 {
			t.Fatalf("edit of the seeded canvas: seq %d, %v; want seq 2 acknowledged", seq, err)
		}

		// Seeding again while the server has the first demo canvas live.
		res = s.Run("seed")
		if res.Code != 0 || !strings.Contains(res.Stdout, "password is unchanged") {
			t.Fatalf("sker seed again beside serve: code %d, stdout %q, stderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		list, err := demo.ListCanvases(ctx)
		noErr(t, err)
		if len(list) != 2 {
			t.Errorf("after seeding twice the demo user has canvases %s; want 2", brief(list))
		}
		want := []string{"ask", "idea", "more", "welcome"}
		wantNodes(t, demo, id, want, 2)

		s.Stop()
		s.Start()
		wantNodes(t, demo, id, want, 2)
		wantJournalClean(t, s)
	})
}

// TestLockReleasedAfterKill: kill -9 of the server leaves its lock file
// behind, but the kernel drops the lock with the process: a new serve
// starts at once, holds the folder in turn and keeps the acknowledged
// writes.
func TestLockReleasedAfterKill(t *testing.T) {
	ctx := t.Context()
	s := StartSker(t, Options{})
	c := s.NewClient()
	_, err := c.Register(ctx, alice.email, alice.password, alice.name)
	noErr(t, err)
	cv, err := c.CreateCanvas(ctx, "killed")
	noErr(t, err)
	_, err = c.PostOps(ctx, cv.ID, "b1", Op{Op: "node.add", ID: "a", Kind: "text", X: F(0), Y: F(0)})
	noErr(t, err)
	first := s.pid()

	s.Kill()
	if h := lockHolder(t, s.DataDir); h.PID != first {
		t.Errorf("lock file after kill -9: pid %d; want the killed server's %d", h.PID, first)
	}
	s.Start()
	if h := lockHolder(t, s.DataDir); h.PID != s.pid() {
		t.Errorf("lock file after the restart: pid %d; want the new server's %d", h.PID, s.pid())
	}
	wantSecondServeRefused(t, s)
	wantNodes(t, c, cv.ID, []string{"a"}, 1)
}

// lockHolder reads the lock file in dir.
func lockHolder(t *testing.T, dir string) struct{ PID int } {
	t.Helper()
	var h struct{ PID int }
	b, err := os.ReadFile(filepath.Join(dir, "sker.lock"))
	if err != nil {
		t.Errorf("lock file: %v", err)
		return h
	}
	if err := json.NewDecoder(strings.NewReader(string(b))).Decode(&h); err != nil {
		t.Errorf("lock file %q: %v", b, err)
	}
	return h
}
