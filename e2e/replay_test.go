package e2e

import (
	"bytes"
	"encoding/json"
	"math"
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

// TestNegativeZeroExportsAsZero: -0 is 0, so a canvas given -0 in its
// geometry or data exports 0, the same bytes before and after a restart
// (SQLite stores -0.0 as 0) and after a replay from the journal.
func TestNegativeZeroExportsAsZero(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *Sker) {
		ctx := t.Context()
		s.Start()
		c := s.NewClient()
		if _, err := c.Register(ctx, "zero@example.com", "zero-password", "Zero"); err != nil {
			t.Fatal(err)
		}
		cv, err := c.CreateCanvas(ctx, "Zero")
		noErr(t, err)
		negZero := math.Copysign(0, -1)
		data := map[string]any{
			"a": json.RawMessage(`-0`), "b": json.RawMessage(`-0.0`), "c": json.RawMessage(`-0e5`),
			"d": json.RawMessage(`[-0,{"e":-0E-2}]`), "s": "-0",
		}
		_, err = c.PostOps(ctx, cv.ID, "add", Op{Op: "node.add", ID: "n", Kind: "text", X: F(negZero), Y: F(negZero), Data: data})
		noErr(t, err)
		s.Stop() // checkpointed
		s.Start()
		_, err = c.PostOps(ctx, cv.ID, "move", Op{Op: "node.update", ID: "n", Set: map[string]any{"y": json.RawMessage(`-0`), "data.f": json.RawMessage(`-0.00`)}})
		noErr(t, err)
		first := exportBytes(t, c, cv.ID)
		for _, want := range []string{`"x":0,"y":0,`, `"a":0,"b":0.0,"c":0e5,"d":[0,{"e":0E-2}],"f":0.00,"s":"-0"`} {
			if !bytes.Contains(first, []byte(want)) {
				t.Errorf("export: got %s; want it to hold %s", first, want)
			}
		}
		s.Kill() // the update is in the journal only
		s.Start()
		if got := exportBytes(t, c, cv.ID); !bytes.Equal(got, first) {
			t.Errorf("export after kill -9 and a replay:\n got %s\nwant %s", got, first)
		}
		s.Stop()
		s.Start()
		if got := exportBytes(t, c, cv.ID); !bytes.Equal(got, first) {
			t.Errorf("export after a graceful restart:\n got %s\nwant %s", got, first)
		}
	})
}
