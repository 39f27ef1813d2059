package versions_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/versions"
)

// randomHistory commits n random valid batches to a new canvas and returns
// them as journaled.
func randomHistory(t *testing.T, r *rand.Rand, n int) []journal.Committed {
	t.Helper()
	st := canvas.NewState("c", canvas.Meta{Title: "Start"}, canvas.Limits{})
	var out []journal.Committed
	kinds := []string{"note", "text"}
	for len(out) < n {
		var ops []canvas.Op
		id := fmt.Sprintf("n%d", r.IntN(12))
		f := float64(r.IntN(100))
		switch r.IntN(7) {
		case 0, 1:
			ops = []canvas.Op{{Op: canvas.OpNodeAdd, ID: id, Kind: kinds[r.IntN(2)], X: &f, Data: map[string]json.RawMessage{"t": json.RawMessage(fmt.Sprintf(`"%d"`, r.IntN(9)))}}}
		case 2:
			ops = []canvas.Op{{Op: canvas.OpNodeUpdate, ID: id, Set: map[string]json.RawMessage{"y": json.RawMessage(fmt.Sprint(f)), "data.k": json.RawMessage(`[1]`)}}}
		case 3:
			ops = []canvas.Op{{Op: canvas.OpNodeUpdate, ID: id, Unset: []string{"data.t"}}}
		case 4:
			ops = []canvas.Op{{Op: canvas.OpNodeDelete, ID: id}}
		case 5:
			ops = []canvas.Op{{Op: canvas.OpEdgeAdd, ID: fmt.Sprintf("e%d", r.IntN(6)), Source: id, Target: fmt.Sprintf("n%d", r.IntN(12)), Kind: "default"}}
		case 6:
			title := fmt.Sprintf("T%d", r.IntN(5))
			ops = []canvas.Op{{Op: canvas.OpCanvasUpdate, Title: &title, Settings: map[string]json.RawMessage{fmt.Sprintf("s%d", r.IntN(3)): json.RawMessage(`true`)}}}
		}
		b := canvas.Batch{Author: fmt.Sprintf("u%d", r.IntN(3)), At: int64(1000 + len(out)), Ops: ops}
		if _, err := st.Apply(b); err != nil {
			continue // not valid here (an unknown id, a taken one): pick another
		}
		out = append(out, journal.Committed{Seq: st.Seq, Author: b.Author, At: b.At, Ops: ops})
	}
	return out
}

func replayed(t *testing.T, batches []journal.Committed, seq uint64) *canvas.State {
	t.Helper()
	st := canvas.NewState("c", canvas.Meta{Title: "Start"}, canvas.Limits{})
	if err := versions.Replay(st, batches, seq); err != nil {
		t.Fatalf("Replay to %d: %v", seq, err)
	}
	return st
}

func encoded(t *testing.T, st *canvas.State) string {
	t.Helper()
	return string(versions.EncodeState(st))
}

// TestRebuildFromPoints: a seq rebuilt from any kept point at or before it
// plus the batches after is the replay of the whole history from seq 0,
// byte for byte in the exported form.
func TestRebuildFromPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	batches := randomHistory(t, r, 200)
	for range 60 {
		point := uint64(r.IntN(201))
		seq := point + uint64(r.IntN(201-int(point)))
		kept, err := versions.DecodeState(versions.EncodeState(replayed(t, batches, point)))
		if err != nil {
			t.Fatalf("DecodeState of point %d: %v", point, err)
		}
		if err := versions.Replay(kept, batches, seq); err != nil {
			t.Fatalf("Replay from %d to %d: %v", point, seq, err)
		}
		if got, want := encoded(t, kept), encoded(t, replayed(t, batches, seq)); got != want {
			t.Fatalf("seq %d from point %d:\ngot  %s\nwant %s", seq, point, got, want)
		}
	}
}

func TestReplayGap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	batches := randomHistory(t, r, 30)
	st := replayed(t, batches, 5)
	err := versions.Replay(st, batches[10:], 20) // batches 6 to 10 trimmed
	if !errors.Is(err, versions.ErrNotRebuildable) {
		t.Fatalf("Replay over a gap: got %v; want ErrNotRebuildable", err)
	}
	st = replayed(t, batches, 5)
	if err := versions.Replay(st, batches, 31); !errors.Is(err, versions.ErrNotRebuildable) {
		t.Fatalf("Replay past the last batch: got %v; want ErrNotRebuildable", err)
	}
}

// TestRestoreRoundTrip: the restore batch from now to then, applied, gives
// then's content; a second restore to the seq before the first gives the
// content before it back.
func TestRestoreRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	batches := randomHistory(t, r, 300)
	for range 80 {
		then := uint64(r.IntN(301))
		now := replayed(t, batches, 300)
		before := replayed(t, batches, 300)
		target := replayed(t, batches, then)
		ops := versions.RestoreOps(now, target)
		if len(ops) == 0 {
			if d := versions.Compare(now, target); !d.Empty() {
				t.Fatalf("restore to %d: no ops, but the states differ: %+v", then, d)
			}
			continue
		}
		if _, err := now.Apply(canvas.Batch{Author: "r", At: 5000, Ops: ops}); err != nil {
			t.Fatalf("restore to %d: the batch is refused: %v\nops %+v", then, err, ops)
		}
		if d := versions.Compare(now, target); !d.Empty() {
			t.Fatalf("restore to %d: got a state that differs: %+v", then, d)
		}
		back := versions.RestoreOps(now, before)
		if _, err := now.Apply(canvas.Batch{Author: "r", At: 5001, Ops: back}); err != nil {
			t.Fatalf("second restore: refused: %v", err)
		}
		if d := versions.Compare(now, before); !d.Empty() {
			t.Fatalf("second restore: got a state that differs from the one before the first: %+v", d)
		}
	}
}

func TestCompare(t *testing.T) {
	a := canvas.NewState("c", canvas.Meta{Title: "A"}, canvas.Limits{})
	b := canvas.NewState("c", canvas.Meta{Title: "A"}, canvas.Limits{})
	x := 1.0
	mustApply(t, a, canvas.Op{Op: canvas.OpNodeAdd, ID: "keep", Kind: "note"}, canvas.Op{Op: canvas.OpNodeAdd, ID: "gone", Kind: "note"},
		canvas.Op{Op: canvas.OpNodeAdd, ID: "moved", Kind: "note"}, canvas.Op{Op: canvas.OpEdgeAdd, ID: "e1", Source: "keep", Target: "gone", Kind: "default"})
	mustApply(t, b, canvas.Op{Op: canvas.OpNodeAdd, ID: "keep", Kind: "note"}, canvas.Op{Op: canvas.OpNodeAdd, ID: "new", Kind: "note"},
		canvas.Op{Op: canvas.OpNodeAdd, ID: "moved", Kind: "note", X: &x}, canvas.Op{Op: canvas.OpEdgeAdd, ID: "e2", Source: "keep", Target: "new", Kind: "default"})
	d := versions.Compare(a, b)
	got := fmt.Sprint(d.NodesAdded, d.NodesRemoved, d.NodesChanged, d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged, d.MetaChanged)
	if want := "[new] [gone] [moved] [e2] [e1] [] false"; got != want {
		t.Errorf("Compare: got %s; want %s", got, want)
	}
}

func mustApply(t *testing.T, st *canvas.State, ops ...canvas.Op) {
	t.Helper()
	if _, err := st.Apply(canvas.Batch{Author: "u", At: 1, Ops: ops}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"nodes":[null]}`, `{"nodes":[{"id":""}]}`, `{"nodes":[{"id":"a"},{"id":"a"}]}`,
		`{"nodes":[{"id":"a"}],"edges":[{"id":"e","source":"a","target":"b"}]}`, `{"edges":[{"id":""}]}`} {
		if _, err := versions.DecodeState([]byte(in)); !errors.Is(err, versions.ErrBadState) {
			t.Errorf("DecodeState(%s): got %v; want ErrBadState", in, err)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	batches := randomHistory(&testing.T{}, r, 40)
	st := canvas.NewState("c", canvas.Meta{Title: "Start"}, canvas.Limits{})
	_ = versions.Replay(st, batches, 40)
	f.Add(versions.EncodeState(st))
	f.Add([]byte(`{"nodes":[{"id":"a"}],"edges":[{"id":"e","source":"a","target":"a"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := versions.DecodeState(b)
		if err != nil {
			if !errors.Is(err, versions.ErrBadState) {
				t.Fatalf("DecodeState: got %v; want ErrBadState", err)
			}
			return
		}
		// What decodes encodes and decodes again to the same.
		again, err := versions.DecodeState(versions.EncodeState(st))
		if err != nil {
			t.Fatalf("DecodeState of its own encoding: %v", err)
		}
		if a, b := versions.EncodeState(st), versions.EncodeState(again); string(a) != string(b) {
			t.Fatalf("round trip:\n%s\n%s", a, b)
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
