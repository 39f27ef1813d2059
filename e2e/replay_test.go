package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/skerhq/sker/testkit"
)

// onBothStores runs test in a subtest per store: the embedded SQLite, and
// a fresh PostgreSQL database migrated with `sker migrate`. The server is
// prepared, not started.
func onBothStores(t *testing.T, test func(t *testing.T, s *Sker)) {
	t.Run("sqlite", func(t *testing.T) { test(t, NewSker(t, Options{})) })
	t.Run("postgres", func(t *testing.T) {
		s := NewSker(t, Options{DatabaseURL: testkit.PostgresURL(t)})
		if res := s.Run("migrate"); res.Code != 0 {
			t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
		}
		test(t, s)
	})
}

// TestReplayedDeleteStaysDeleted is guarantee 5 through the binary: a
// delete acknowledged after the last checkpoint and recovered from the
// journal after kill -9 must still hold after the checkpoint of a graceful
// stop and another start, which reads the store alone.
func TestReplayedDeleteStaysDeleted(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *Sker) {
		ctx := t.Context()
		s.Start()
		c := s.NewClient()
		if _, err := c.Register(ctx, "replay@example.com", "replay-password", "Replay"); err != nil {
			t.Fatal(err)
		}
		cv, err := c.CreateCanvas(ctx, "Replay")
		noErr(t, err)
		_, err = c.PostOps(ctx, cv.ID, "add",
			Op{Op: "node.add", ID: "a", Kind: "text", X: F(0), Y: F(0), Data: map[string]any{"text": "a"}},
			Op{Op: "node.add", ID: "b", Kind: "text", X: F(300), Y: F(0), Data: map[string]any{"text": "b"}},
			Op{Op: "edge.add", ID: "ab", Source: "a", Target: "b"})
		noErr(t, err)
		s.Stop() // the final checkpoint holds a, b and ab
		s.Start()
		_, err = c.PostOps(ctx, cv.ID, "delete-b", Op{Op: "node.delete", ID: "b"})
		noErr(t, err)
		s.Kill() // at once: the delete is in the journal only
		s.Start()
		wantOnlyA(t, c, cv.ID, "after kill -9 and a start (replay)")
		before := exportBytes(t, c, cv.ID)
		s.Stop() // the first checkpoint after the replay
		s.Start()
		wantOnlyA(t, c, cv.ID, "after the replay, a graceful stop and a start")
		if after := exportBytes(t, c, cv.ID); !bytes.Equal(after, before) {
			t.Errorf("export after the replay, a graceful stop and a start:\n got %s\nwant %s", after, before)
		}
	})
}

// wantOnlyA checks that the canvas holds node a and no edge.
func wantOnlyA(t *testing.T, c *Client, canvasID, when string) {
	t.Helper()
	cv, err := c.GetCanvas(t.Context(), canvasID)
	noErr(t, err)
	var ids []string
	for _, n := range cv.Nodes {
		ids = append(ids, n.ID)
	}
	if strings.Join(ids, ",") != "a" || len(cv.Edges) != 0 {
		t.Errorf("%s: got nodes %v and %d edges %+v; want node a alone: the acknowledged delete of b (and its edge) was undone",
			when, ids, len(cv.Edges), cv.Edges)
	}
}

func exportBytes(t *testing.T, c *Client, canvasID string) []byte {
	t.Helper()
	var raw json.RawMessage
	noErr(t, c.Do(t.Context(), http.MethodGet, "/api/v1/canvases/"+canvasID+"/export", nil, &raw))
	return raw
}
