package e2e

import (
	"slices"
	"strings"
	"testing"
)

// journalTrouble are log fragments of a JetStream store that another
// server wrote to behind this one's back.
var journalTrouble = []string{"inconsisten", "corrupt", "could not locate msg block", "prior state file"}

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
