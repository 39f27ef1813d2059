package canvas

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkApply measures Apply on the hot path of a live canvas.
func BenchmarkApply(b *testing.B) {
	b.Run("update10/nodes=2000", func(b *testing.B) {
		const nodes, perBatch = 2000, 10
		s := NewState("bench", Meta{}, Limits{})
		var adds []Op
		for i := range nodes {
			adds = append(adds, Op{Op: OpNodeAdd, ID: fmt.Sprintf("n%04d", i), Kind: "text",
				X: ptr(float64(i)), Y: ptr(float64(i)), Data: raws("text", `"some card text"`, "color", `"yellow"`)})
		}
		for _, ops := range ImportOps(Export{Nodes: nodesOf(b, adds)}, Limits{}) {
			mustApply(b, s, Batch{Author: "setup", Ops: ops})
		}
		// One batch per slice of 10 nodes, so every node is updated in turn.
		batches := make([][]Op, nodes/perBatch)
		for i := range batches {
			for k := range perBatch {
				id := fmt.Sprintf("n%04d", i*perBatch+k)
				batches[i] = append(batches[i], Op{Op: OpNodeUpdate, ID: id,
					Set: raws("x", fmt.Sprint(i+k), "y", `-12.5`, "data.text", `"edited text"`)})
			}
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if _, err := s.Apply(Batch{Author: "u", At: int64(n), Ops: batches[n%len(batches)]}); err != nil {
				b.Fatalf("apply: %v", err)
			}
			n++
		}
		b.ReportMetric(float64(n*perBatch)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("add100", func(b *testing.B) {
		const perBatch, batchesPerCanvas = 100, 200 // 20,000 nodes, then a fresh canvas
		batches := make([][]Op, batchesPerCanvas)
		for i := range batches {
			for k := range perBatch {
				batches[i] = append(batches[i], Op{Op: OpNodeAdd, ID: fmt.Sprintf("n%d-%d", i, k), Kind: "note",
					X: ptr(float64(k)), Y: ptr(float64(i)), W: ptr(200.0), Data: raws("text", `"new card"`)})
			}
		}
		b.ReportAllocs()
		s := NewState("bench", Meta{}, Limits{})
		n := 0
		for b.Loop() {
			if n > 0 && n%batchesPerCanvas == 0 {
				b.StopTimer()
				s = NewState("bench", Meta{}, Limits{})
				b.StartTimer()
			}
			if _, err := s.Apply(Batch{Author: "u", At: int64(n), Ops: batches[n%batchesPerCanvas]}); err != nil {
				b.Fatalf("apply: %v", err)
			}
			n++
		}
		b.ReportMetric(float64(n*perBatch)/b.Elapsed().Seconds(), "ops/s")
	})
}

func nodesOf(b *testing.B, adds []Op) []*Node {
	b.Helper()
	var out []*Node
	for _, op := range adds {
		out = append(out, &Node{ID: op.ID, Kind: op.Kind, X: *op.X, Y: *op.Y, W: defaultW, H: defaultH, Data: op.Data})
	}
	return out
}

// BenchmarkDecodeOps measures decoding a batch of 100 mixed ops as a
// client sends them.
func BenchmarkDecodeOps(b *testing.B) {
	var ops []Op
	for i := range 100 {
		id := fmt.Sprintf("n%d", i)
		switch i % 4 {
		case 0:
			ops = append(ops, Op{Op: OpNodeAdd, ID: id, Kind: "text", X: ptr(1.5), Y: ptr(2.0), Data: raws("text", `"hello, world"`)})
		case 1:
			ops = append(ops, Op{Op: OpNodeUpdate, ID: id, Set: raws("x", `10`, "data.text", `{"rich":[1,2,3]}`), Unset: []string{"data.old"}})
		case 2:
			ops = append(ops, Op{Op: OpEdgeAdd, ID: "e" + id, Source: "a", Target: id})
		default:
			ops = append(ops, Op{Op: OpNodeDelete, ID: id})
		}
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		b.Fatalf("marshal: %v", err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		got, err := DecodeOps(raw)
		if err != nil || len(got) != len(ops) {
			b.Fatalf("DecodeOps: %d ops, %v", len(got), err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(ops))/b.Elapsed().Seconds(), "ops/s")
}
