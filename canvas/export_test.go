package canvas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/skerhq/sker/apierr"
)

func TestExportEmpty(t *testing.T) {
	s := NewState("cv", Meta{}, Limits{})
	want := `{"version":1,"id":"cv","title":"","settings":{},"seq":0,"nodes":[],"edges":[]}`
	if got := string(exportJSON(t, s)); got != want {
		t.Fatalf("empty export:\n got %s\nwant %s", got, want)
	}
}

func TestExportGolden(t *testing.T) {
	s := NewState("cv1", Meta{Title: "Board"}, Limits{})
	mustApply(t, s, Batch{Author: "ann", At: 1000, Ops: []Op{
		{Op: OpNodeAdd, ID: "b", Kind: "note", X: ptr(-1.5), Z: ptr(3.0), Data: raws("text", ` "hi" `, "color", `"red"`)},
		{Op: OpNodeAdd, ID: "a", Kind: "text", W: ptr(10.0), H: ptr(20.0)},
		{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "b", Data: raws("w", `[ 1 , 2 ]`)},
		{Op: OpCanvasUpdate, Settings: raws("zoom", `1.5`, "grid", `true`)},
	}})
	want := `{"version":1,"id":"cv1","title":"Board","settings":{"grid":true,"zoom":1.5},"seq":1,` +
		`"nodes":[` +
		`{"id":"a","kind":"text","x":0,"y":0,"w":10,"h":20,"z":0,"data":{},"author":"ann","created_at":1000,"updated_at":1000},` +
		`{"id":"b","kind":"note","x":-1.5,"y":0,"w":240,"h":120,"z":3,"data":{"color":"red","text":"hi"},"author":"ann","created_at":1000,"updated_at":1000}` +
		`],"edges":[` +
		`{"id":"e","source":"a","target":"b","kind":"default","data":{"w":[1,2]},"author":"ann","created_at":1000}` +
		`]}`
	if got := string(exportJSON(t, s)); got != want {
		t.Fatalf("export:\n got %s\nwant %s", got, want)
	}
}

func TestExportSortedByID(t *testing.T) {
	s := NewState("cv", Meta{}, Limits{})
	ids := []string{"b", "a10", "B", "a9", "a", "_", "0", "a:1", "a-1"}
	var ops []Op
	for _, id := range ids {
		ops = append(ops, Op{Op: OpNodeAdd, ID: id, Kind: "text"})
	}
	for i := 1; i < len(ids); i++ {
		ops = append(ops, Op{Op: OpEdgeAdd, ID: "e" + ids[i], Source: ids[i-1], Target: ids[i]})
	}
	mustApply(t, s, Batch{Ops: ops})
	for run := 0; run < 5; run++ {
		ex := s.Export()
		var nodeIDs, edgeIDs []string
		for _, n := range ex.Nodes {
			nodeIDs = append(nodeIDs, n.ID)
		}
		for _, e := range ex.Edges {
			edgeIDs = append(edgeIDs, e.ID)
		}
		if want := slices.Sorted(slices.Values(ids)); !slices.Equal(nodeIDs, want) {
			t.Fatalf("node order: got %v; want %v", nodeIDs, want)
		}
		if !slices.IsSorted(edgeIDs) || len(edgeIDs) != len(ids)-1 {
			t.Fatalf("edge order: got %v; want %d ids, sorted", edgeIDs, len(ids)-1)
		}
	}
}

// buildInOrder applies the content of TestExportDeterministic as one batch,
// decoded from the JSON text given.
func buildInOrder(t *testing.T, opsJSON string) []byte {
	t.Helper()
	ops, err := DecodeOps([]byte(opsJSON))
	if err != nil {
		t.Fatalf("DecodeOps: %v", err)
	}
	s := NewState("cv", Meta{Title: "Same"}, Limits{})
	mustApply(t, s, Batch{Author: "u", At: 7, Ops: ops})
	return exportJSON(t, s)
}

// TestExportDeterministic builds the same content in different orders, with
// different key orders and whitespace in the input, and expects identical
// bytes.
func TestExportDeterministic(t *testing.T) {
	orders := []string{
		`[
			{"op":"node.add","id":"n1","kind":"text","data":{"z":1,"a":{"x":[1,2]},"m":"<&>"}},
			{"op":"node.add","id":"n2","kind":"ai","x":1,"y":2},
			{"op":"node.add","id":"n3","kind":"note"},
			{"op":"edge.add","id":"e1","source":"n1","target":"n2"},
			{"op":"edge.add","id":"e2","source":"n2","target":"n3","data":{"b":true,"a":null}},
			{"op":"canvas.update","settings":{"k2":"v","k1":[]}}
		]`,
		`[{"op":"canvas.update","settings":{ "k1" : [ ] , "k2" : "v" }},
		  {"op":"node.add","id":"n3","kind":"note"},
		  {"kind":"ai","y":2,"x":1,"id":"n2","op":"node.add"},
		  {"op":"edge.add","target":"n3","source":"n2","id":"e2","data":{ "a" : null, "b" : true }},
		  {"op":"node.add","id":"n1","kind":"text","data":{
		      "m" : "<&>",
		      "a" : { "x" : [ 1 ,
		                      2 ] },
		      "z" : 1
		  }},
		  {"op":"edge.add","id":"e1","source":"n1","target":"n2"}]`,
		// The same again, built with throw-away content added and removed.
		`[{"op":"node.add","id":"tmp","kind":"file","data":{"big":"xxxxxxxx"}},
		  {"op":"node.add","id":"n2","kind":"ai","x":1,"y":2},
		  {"op":"edge.add","id":"e1","source":"tmp","target":"n2"},
		  {"op":"node.add","id":"n1","kind":"text","data":{"m":"\u003c\u0026\u003e","a":{"x":[1,2]},"z":1}},
		  {"op":"node.delete","id":"tmp"},
		  {"op":"node.add","id":"n3","kind":"note"},
		  {"op":"edge.add","id":"e2","source":"n2","target":"n3","data":{"b":true,"a":null}},
		  {"op":"edge.add","id":"e1","source":"n1","target":"n2"},
		  {"op":"canvas.update","settings":{"k1":[],"k2":"v","k3":"gone"}},
		  {"op":"canvas.update","settings":{"k3":null}}]`,
	}
	want := buildInOrder(t, orders[0])
	for i, o := range orders[1:] {
		if got := buildInOrder(t, o); !bytes.Equal(got, want) {
			t.Fatalf("order %d:\n got %s\nwant %s", i+1, got, want)
		}
	}
	for _, frag := range []string{
		`"data":{"a":{"x":[1,2]},"m":"\u003c\u0026\u003e","z":1}`,
		`"data":{"a":null,"b":true}`,
		`"settings":{"k1":[],"k2":"v"}`,
	} {
		if !bytes.Contains(want, []byte(frag)) {
			t.Fatalf("export %s: want it to contain %s", want, frag)
		}
	}
}

// TestExportSharedSafely checks the promise that an export may be encoded on
// another goroutine while the state moves on (run with -race).
func TestExportSharedSafely(t *testing.T) {
	s := newFixture(t, Limits{})
	mustApply(t, s, Batch{Ops: []Op{{Op: OpCanvasUpdate, Settings: raws("k", `1`)}}})
	ex := s.Export()
	want, err := json.Marshal(ex)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			got, err := json.Marshal(ex)
			if err != nil || !bytes.Equal(got, want) {
				select {
				case errs <- fmt.Sprintf("export changed under the encoder: %s (%v)", got, err):
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 50; i++ {
		ops := []Op{
			{Op: OpNodeUpdate, ID: "a", Set: raws("x", fmt.Sprint(i), "data.title", fmt.Sprintf(`"t%d"`, i))},
			{Op: OpCanvasUpdate, Settings: raws("k", fmt.Sprint(i), "n", `null`)},
		}
		switch {
		case i < 25:
			ops = append(ops, Op{Op: OpNodeUpdate, ID: "b", Unset: []string{"data.none"}})
		case i == 25:
			ops = append(ops, Op{Op: OpNodeDelete, ID: "b"})
		}
		mustApply(t, s, Batch{At: int64(i), Ops: ops})
	}
	wg.Wait()
	select {
	case msg := <-errs:
		t.Fatal(msg)
	default:
	}
}

// content is an export without what import does not carry over: seq,
// authors and timestamps.
func content(t *testing.T, ex Export) string {
	t.Helper()
	nodes := make([]Node, len(ex.Nodes))
	for i, n := range ex.Nodes {
		nodes[i] = *n
		nodes[i].Author, nodes[i].CreatedAt, nodes[i].UpdatedAt = "", 0, 0
	}
	edges := make([]Edge, len(ex.Edges))
	for i, e := range ex.Edges {
		edges[i] = *e
		edges[i].Author, edges[i].CreatedAt = "", 0
	}
	b, err := json.Marshal(struct {
		Nodes []Node
		Edges []Edge
	}{nodes, edges})
	if err != nil {
		t.Fatalf("marshal content: %v", err)
	}
	return string(b)
}

// buildRich returns a canvas with varied content, built by several authors
// over several batches.
func buildRich(t *testing.T, nodes int) *State {
	t.Helper()
	s := NewState("src", Meta{Title: "Source"}, Limits{})
	kinds := []string{"text", "note", "image", "ai", "file"}
	for i := 0; i < nodes; i++ {
		op := Op{Op: OpNodeAdd, ID: fmt.Sprintf("n%03d", i), Kind: kinds[i%len(kinds)],
			X: ptr(float64(i) * 1.25), Y: ptr(-float64(i)), Z: ptr(float64(i%7 - 3))}
		if i%3 == 0 {
			op.Data = raws("text", fmt.Sprintf(`{"i":%d,"s":"<b>%d</b>"}`, i, i), "tags", `["x","y"]`)
		}
		if i%4 == 0 {
			op.W, op.H = ptr(1.0+float64(i)), ptr(MaxSize)
		}
		mustApply(t, s, Batch{Author: fmt.Sprintf("u%d", i%3), At: int64(i), Ops: []Op{op}})
	}
	for i := 1; i < nodes; i++ {
		for _, j := range []int{i - 1, (i * 7) % i} {
			if i == j {
				continue
			}
			op := Op{Op: OpEdgeAdd, ID: fmt.Sprintf("e%03d-%03d", j, i), Source: fmt.Sprintf("n%03d", j), Target: fmt.Sprintf("n%03d", i)}
			if i%5 == 0 {
				op.Data = raws("label", fmt.Sprintf(`"l%d"`, i))
			}
			if _, dup := s.Edges[op.ID]; !dup {
				mustApply(t, s, Batch{Author: "edger", At: int64(1000 + i), Ops: []Op{op}})
			}
		}
	}
	mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeUpdate, ID: "n001", Set: raws("data.extra", `{"deep":[1,{"a":2}]}`)}}})
	return s
}

func TestImportOpsRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		nodes   int
		maxOps  int
		viaJSON bool
	}{
		{name: "chunks of 7", nodes: 25, maxOps: 7},
		{name: "chunks of 1", nodes: 6, maxOps: 1},
		{name: "one batch", nodes: 25, maxOps: 0},
		{name: "through JSON", nodes: 25, maxOps: 10, viaJSON: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := buildRich(t, tc.nodes)
			ex := src.Export()
			if tc.viaJSON {
				var decoded Export
				if err := json.Unmarshal(exportJSON(t, src), &decoded); err != nil {
					t.Fatalf("unmarshal export: %v", err)
				}
				ex = decoded
			}
			limits := Limits{MaxBatchOps: tc.maxOps}
			batches := ImportOps(ex, limits)
			max := limits.withDefaults().MaxBatchOps
			total, sawEdge := 0, false
			for i, ops := range batches {
				if len(ops) == 0 || len(ops) > max {
					t.Fatalf("batch %d has %d ops; want 1..%d", i, len(ops), max)
				}
				for _, op := range ops {
					switch op.Op {
					case OpNodeAdd:
						if sawEdge {
							t.Fatalf("node.add %s after an edge.add; want nodes first", op.ID)
						}
					case OpEdgeAdd:
						sawEdge = true
					default:
						t.Fatalf("ImportOps produced %s; want only node.add and edge.add", op.Op)
					}
				}
				total += len(ops)
			}
			if want := len(ex.Nodes) + len(ex.Edges); total != want {
				t.Fatalf("ImportOps: got %d ops; want %d", total, want)
			}
			if want := (total + max - 1) / max; len(batches) != want {
				t.Fatalf("ImportOps: got %d batches; want %d", len(batches), want)
			}

			dst := NewState("dst", Meta{}, limits)
			for i, ops := range batches {
				mustApply(t, dst, Batch{Author: "importer", At: 5, Ops: ops})
				if dst.Seq != uint64(i+1) {
					t.Fatalf("seq after import batch %d: got %d; want %d", i, dst.Seq, i+1)
				}
			}
			if got, want := content(t, dst.Export()), content(t, src.Export()); got != want {
				t.Fatalf("imported content:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestImportOpsSameStamps imports a canvas built in one batch by one author
// with that author and time: the nodes and edges come out byte-identical.
func TestImportOpsSameStamps(t *testing.T) {
	src := NewState("cv", Meta{}, Limits{})
	mustApply(t, src, Batch{Author: "ann", At: 77, Ops: fixture()})
	mustApply(t, src, Batch{Author: "ann", At: 77, Ops: []Op{{Op: OpNodeUpdate, ID: "c", Set: raws("z", `-9`, "data.k", `{"a":[1]}`)}}})
	dst := NewState("cv", Meta{}, Limits{})
	for _, ops := range ImportOps(src.Export(), Limits{}) {
		mustApply(t, dst, Batch{Author: "ann", At: 77, Ops: ops})
	}
	dst.Seq = src.Seq
	if got, want := exportJSON(t, dst), exportJSON(t, src); !bytes.Equal(got, want) {
		t.Fatalf("import:\n got %s\nwant %s", got, want)
	}
}

func TestImportOpsChunking(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
		edges int
		lim   Limits
		sizes []int
	}{
		{"empty", 0, 0, Limits{}, nil},
		{"default cap", 1201, 0, Limits{}, []int{500, 500, 201}},
		{"exact multiple", 6, 3, Limits{MaxBatchOps: 3}, []int{3, 3, 3}},
		{"edges spill over", 4, 3, Limits{MaxBatchOps: 5}, []int{5, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := Export{}
			for i := 0; i < tc.nodes; i++ {
				ex.Nodes = append(ex.Nodes, &Node{ID: fmt.Sprintf("n%d", i), Kind: "text", W: 1, H: 1})
			}
			for i := 0; i < tc.edges; i++ {
				ex.Edges = append(ex.Edges, &Edge{ID: fmt.Sprintf("e%d", i), Source: "n0", Target: fmt.Sprintf("n%d", i+1), Kind: "default"})
			}
			var sizes []int
			for _, b := range ImportOps(ex, tc.lim) {
				sizes = append(sizes, len(b))
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Fatalf("batch sizes: got %v; want %v", sizes, tc.sizes)
			}
		})
	}
}

// TestImportOpsOverCap: an export with more nodes than the target allows is
// refused with canvas_full, and the refused batch leaves nothing behind.
func TestImportOpsOverCap(t *testing.T) {
	src := buildRich(t, 6)
	dst := NewState("dst", Meta{}, Limits{MaxNodes: 5})
	batches := ImportOps(src.Export(), dst.Limits())
	if len(batches) != 1 {
		t.Fatalf("batches: got %d; want 1", len(batches))
	}
	_, err := dst.Apply(Batch{Ops: batches[0]})
	if oe := asOpError(t, err); oe.Code != apierr.CodeCanvasFull || oe.Index != 5 {
		t.Fatalf("import over cap: got %s at %d; want %s at 5", oe.Code, oe.Index, apierr.CodeCanvasFull)
	}
	if len(dst.Nodes) != 0 || dst.Seq != 0 {
		t.Fatalf("after refused import: %d nodes, seq %d; want 0, 0", len(dst.Nodes), dst.Seq)
	}
	if strings.Contains(content(t, dst.Export()), "n000") {
		t.Fatalf("refused import left content behind")
	}
}
