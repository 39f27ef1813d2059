package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestClusterDoctor: with a node of a three-node cluster stopped, `sker
// doctor` on that node's settings starts its embedded server, meets the two
// nodes still running, waits for the replicated journal to answer, and
// finds the canvas written through the cluster healthy: its changes in the
// journal, no problem, the journal stream at three replicas with a leader
// and its followers named.
func TestClusterDoctor(t *testing.T) {
	nodes := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ann := nodes[1].NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	c, err := ann.CreateCanvas(ctx, "Shared")
	noErr(t, err)
	for i := range 5 {
		_, err = ann.PostOps(ctx, c.ID, fmt.Sprintf("b%d", i), Op{Op: "node.add", ID: fmt.Sprintf("n%d", i), Kind: "note"})
		noErr(t, err)
	}
	nodes[0].Stop()

	res := nodes[0].RunFor(2*time.Minute, "doctor", "--json")
	var rep struct {
		Canvases       int               `json:"canvases"`
		JournalRecords int               `json:"journal_records"`
		Problems       []json.RawMessage `json:"problems"`
		Streams        []struct {
			Name     string
			Replicas int
			Leader   string
			Peers    []struct{ Name string }
		} `json:"streams"`
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &rep) != nil {
		t.Fatalf("sker doctor --json on a stopped node of the cluster: code %d, stdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	if rep.Canvases != 1 || rep.JournalRecords < 5 || len(rep.Problems) != 0 {
		t.Fatalf("doctor report: %s; want 1 canvas, its 5 records at least, no problem", res.Stdout)
	}
	found := false
	for _, s := range rep.Streams {
		if s.Name != "SKER_JOURNAL" {
			continue
		}
		found = true
		if s.Replicas != 3 || s.Leader == "" || len(s.Peers) != 2 {
			t.Errorf("journal stream: %+v; want 3 replicas, a leader and 2 followers", s)
		}
	}
	if !found {
		t.Errorf("doctor report lists no SKER_JOURNAL stream: %s", res.Stdout)
	}
}
