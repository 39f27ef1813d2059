package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/testkit"
)

// TestScanReadsEveryRecordInOrder: OpenExisting finds no stream before
// Open made one, and Scan then yields every record of every canvas in
// stream order with its batches' seqs (none for an epoch marker), and
// changes nothing.
func TestScanReadsEveryRecordInOrder(t *testing.T) {
	ctx := context.Background()
	_, js := testkit.JetStream(t)
	if _, err := journal.OpenExisting(ctx, js, journal.Config{}); !errors.Is(err, journal.ErrNoStream) {
		t.Fatalf("OpenExisting before Open: %v, want ErrNoStream", err)
	}
	j, err := journal.Open(ctx, js, journal.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendRec := func(canvasID string, seqs ...uint64) {
		t.Helper()
		rec := journal.Record{Epoch: "e"}
		for _, s := range seqs {
			b, _ := json.Marshal(journal.Committed{Seq: s})
			rec.Batches = append(rec.Batches, b)
		}
		raw, _ := json.Marshal(rec)
		last, err := j.Last(ctx, canvasID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(ctx, canvasID, last, fmt.Sprint(canvasID, seqs, last), raw); err != nil {
			t.Fatal(err)
		}
	}
	appendRec("a")
	appendRec("a", 1, 2)
	appendRec("b", 7)
	appendRec("a", 3)
	if _, err := journal.OpenExisting(ctx, js, journal.Config{}); err != nil {
		t.Fatalf("OpenExisting after Open: %v", err)
	}
	var got []string
	scan := func() {
		got = nil
		if err := j.Scan(ctx, func(r journal.ScanRecord) error {
			got = append(got, fmt.Sprintf("%s %d %v", r.Canvas, r.StreamSeq, r.Seqs))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	scan()
	want := []string{"a 1 []", "a 2 [1 2]", "b 3 [7]", "a 4 [3]"}
	if !slices.Equal(got, want) {
		t.Fatalf("Scan = %q, want %q", got, want)
	}
	scan()
	if !slices.Equal(got, want) {
		t.Fatalf("second Scan = %q, want %q", got, want)
	}
}
