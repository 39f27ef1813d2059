package actors

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func batchOf(seq uint64, size int) recent {
	return recent{seq: seq, raw: json.RawMessage(`"` + strings.Repeat("x", size-2) + `"`), streamSeq: seq}
}

func seqsOf(r *ring) []uint64 {
	var out []uint64
	for i := range r.n {
		out = append(out, r.at(i).seq)
	}
	return out
}

// TestRingKeepsCountAndBytes: the ring keeps at most its capacity of
// batches and at most maxBytes of them, evicting oldest first, and always
// the newest batch.
func TestRingKeepsCountAndBytes(t *testing.T) {
	r := newRing(4, 100)
	var evicted []uint64
	push := func(seq uint64, size int) {
		r.push(batchOf(seq, size), func(old recent) { evicted = append(evicted, old.seq) })
	}

	for seq := uint64(1); seq <= 6; seq++ {
		push(seq, 10)
	}
	if got := seqsOf(r); !slices.Equal(got, []uint64{3, 4, 5, 6}) || !slices.Equal(evicted, []uint64{1, 2}) {
		t.Fatalf("by count: kept %v, evicted %v; want [3 4 5 6], [1 2]", got, evicted)
	}
	push(7, 80) // 40 + 80 > 100: two go, leaving exactly 100 bytes
	if got := seqsOf(r); !slices.Equal(got, []uint64{5, 6, 7}) || r.bytes != 100 {
		t.Fatalf("by bytes: kept %v (%d bytes); want [5 6 7] (100 bytes)", got, r.bytes)
	}
	push(8, 500) // larger than the cap alone: kept, alone
	if got := seqsOf(r); !slices.Equal(got, []uint64{8}) || r.bytes != 500 {
		t.Fatalf("oversized batch: kept %v (%d bytes); want [8] (500 bytes)", got, r.bytes)
	}
	if !slices.Equal(evicted, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("evicted %v; want 1..7 in order", evicted)
	}
	if out, ok := r.since(7, 8, 0); !ok || len(out) != 1 {
		t.Fatalf("since(7): %d batches, ok=%v; want the one kept", len(out), ok)
	}
	if _, ok := r.since(6, 8, 0); ok {
		t.Fatal("since(6): ok; want false (batch 7 is no longer kept)")
	}
}
