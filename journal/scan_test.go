package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/testkit"
)

// record is a journal record of one owner with batches of the given seqs.
func record(t *testing.T, epoch string, seqs ...uint64) []byte {
	t.Helper()
	rec := journal.Record{Epoch: epoch}
	for _, s := range seqs {
		b, err := json.Marshal(journal.Committed{Seq: s, Author: "u", Ops: nil})
		if err != nil {
			t.Fatal(err)
		}
		rec.Batches = append(rec.Batches, b)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLastSeqs: the scan finds, per canvas, the last batch seq its
// records hold: past a later epoch marker, after a trim, 0 for a canvas
// with only a marker, nothing for a deleted canvas (even one whose
// record was the stream's last).
func TestLastSeqs(t *testing.T) {
	ctx := context.Background()
	_, js := testkit.JetStream(t)
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := j.LastSeqs(ctx); err != nil || len(got) != 0 {
		t.Fatalf("LastSeqs of an empty journal: got %v, %v; want none", got, err)
	}
	lastOf := map[string]uint64{}
	appendRec := func(canvasID string, rec []byte) uint64 {
		t.Helper()
		seq, err := j.Append(ctx, canvasID, lastOf[canvasID], fmt.Sprintf("%s-%d", canvasID, lastOf[canvasID]), rec)
		if err != nil {
			t.Fatalf("Append %s: %v", canvasID, err)
		}
		lastOf[canvasID] = seq
		return seq
	}
	appendRec("a", record(t, "e1"))
	appendRec("b", record(t, "e1"))
	appendRec("a", record(t, "e1", 1, 2))
	cFirst := appendRec("c", record(t, "e1", 1))
	appendRec("a", record(t, "e1", 3))
	appendRec("c", record(t, "e1", 2))
	appendRec("a", record(t, "e2"))             // a new owner's marker after the batches
	appendRec("d", record(t, "e1", 1, 2, 3, 4)) // the stream's last record, deleted below
	if err := j.Trim(ctx, "c", cFirst+1); err != nil {
		t.Fatal(err)
	}
	if err := j.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	got, err := j.LastSeqs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"a": 3, "b": 0, "c": 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LastSeqs: got %v; want %v", got, want)
	}
}
