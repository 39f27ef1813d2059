package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// TestClusterBackup: `sker backup` through node-1 of a two-node cluster
// holds the changes of the canvases node-2 owns that are still only in
// the journal (node-1 asks node-2 to checkpoint them); restored onto a new
// node, every canvas reads what was acknowledged.
func TestClusterBackup(t *testing.T) {
	nodes := startCluster(t, 2, 1)
	ctx := t.Context()
	for _, s := range nodes { // so that placement gives node-2 its share
		if v := waitNodeNames(t, s, 30*time.Second, "node-1", "node-2"); len(v.Nodes) != 2 {
			t.Fatalf("%s lists %v; want both nodes", s.URL(), nodeNames(v))
		}
	}
	c := nodes[0].NewClient()
	_, err := c.Register(ctx, "ops@example.com", "backup-password", "Ops")
	noErr(t, err)
	var ids []string
	owners := map[string]int{}
	for i := 0; i < 4 || owners["node-2"] == 0; i++ {
		if i == 40 {
			t.Fatal("40 canvases, none owned by node-2")
		}
		cv, err := c.CreateCanvas(ctx, fmt.Sprintf("Backed up %d", i))
		noErr(t, err)
		for n := range 5 {
			_, err := c.PostOps(ctx, cv.ID, fmt.Sprintf("b%d-%d", i, n), Op{Op: "node.add", ID: fmt.Sprintf("w%d", n), Kind: "text", Data: map[string]any{"v": n}})
			noErr(t, err)
		}
		ids = append(ids, cv.ID)
		owners[placeOf(t, nodes[0], cv.ID).Owner]++
	}
	t.Logf("canvases by owner: %v", owners)

	out := filepath.Join(t.TempDir(), "backup")
	res := nodes[0].Run("backup", "--server", nodes[0].URL(), "--out", out)
	if res.Code != 0 {
		t.Fatalf("sker backup through node-1: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	m := readBkManifest(t, out)
	if m.Checkpointed != len(ids) {
		t.Errorf("manifest: %d canvases checkpointed; want %d (every one had changes only in the journal)", m.Checkpointed, len(ids))
	}
	for _, id := range ids {
		if m.Canvases[id] != 5 {
			t.Errorf("manifest: canvas %s at seq %d; want 5", id, m.Canvases[id])
		}
	}

	r := NewSker(t, Options{DatabaseURL: testkit.PostgresURL(t)})
	if res := r.Run("restore", "--from", out); res.Code != 0 {
		t.Fatalf("sker restore: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	r.Start()
	rc := r.NewClient()
	_, err = rc.Login(ctx, "ops@example.com", "backup-password")
	noErr(t, err)
	for _, id := range ids {
		got, err := rc.GetCanvas(ctx, id)
		noErr(t, err)
		if got.Seq == nil || *got.Seq != 5 || len(got.Nodes) != 5 {
			t.Errorf("restored canvas %s: seq %v with %d nodes; want seq 5 with 5", id, got.Seq, len(got.Nodes))
		}
	}
}
