package canvas

import (
	"encoding/json"
	"sort"
)

// ExportVersion is the version of the export format written by Export.
const ExportVersion = 1

// Export is the canonical, self-contained form of a canvas: nodes and edges
// sorted by id and data with sorted keys, so equal canvases encode to equal
// bytes. It is the body of the snapshot and export endpoints.
type Export struct {
	Version  int                        `json:"version"`
	ID       string                     `json:"id"`
	Title    string                     `json:"title"`
	Settings map[string]json.RawMessage `json:"settings"`
	Seq      uint64                     `json:"seq"`
	Nodes    []*Node                    `json:"nodes"`
	Edges    []*Edge                    `json:"edges"`
}

// Export returns the canvas in canonical form. The nodes and edges are
// shared with the state, which never modifies them in place, so the result
// may be encoded on another goroutine while the state moves on.
func (s *State) Export() Export {
	ex := Export{
		Version:  ExportVersion,
		ID:       s.ID,
		Title:    s.Meta.Title,
		Settings: s.Meta.Settings,
		Seq:      s.Seq,
		Nodes:    make([]*Node, 0, len(s.Nodes)),
		Edges:    make([]*Edge, 0, len(s.Edges)),
	}
	for _, n := range s.Nodes {
		ex.Nodes = append(ex.Nodes, n)
	}
	for _, e := range s.Edges {
		ex.Edges = append(ex.Edges, e)
	}
	sort.Slice(ex.Nodes, func(i, j int) bool { return ex.Nodes[i].ID < ex.Nodes[j].ID })
	sort.Slice(ex.Edges, func(i, j int) bool { return ex.Edges[i].ID < ex.Edges[j].ID })
	return ex
}

// ImportOps turns the content of an export into batches of node.add and
// edge.add ops of at most limits.MaxBatchOps each, nodes first, so that an
// import goes through the same validation and journal as any change.
func ImportOps(ex Export, limits Limits) [][]Op {
	limits = limits.withDefaults()
	var ops []Op
	for _, n := range ex.Nodes {
		x, y, w, h, z := n.X, n.Y, n.W, n.H, float64(n.Z)
		ops = append(ops, Op{Op: OpNodeAdd, ID: n.ID, Kind: n.Kind, X: &x, Y: &y, W: &w, H: &h, Z: &z, Data: n.Data})
	}
	for _, e := range ex.Edges {
		ops = append(ops, Op{Op: OpEdgeAdd, ID: e.ID, Kind: e.Kind, Source: e.Source, Target: e.Target, Data: e.Data})
	}
	var batches [][]Op
	for len(ops) > 0 {
		n := min(len(ops), limits.MaxBatchOps)
		batches = append(batches, ops[:n])
		ops = ops[n:]
	}
	return batches
}
