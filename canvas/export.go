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
	// Comments are left out of the JSON where there are none, so that a
	// canvas without comments exports as it did before they existed.
	Comments []*Comment `json:"comments,omitempty"`
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
	for _, c := range s.Comments {
		ex.Comments = append(ex.Comments, c)
	}
	sort.Slice(ex.Nodes, func(i, j int) bool { return ex.Nodes[i].ID < ex.Nodes[j].ID })
	sort.Slice(ex.Edges, func(i, j int) bool { return ex.Edges[i].ID < ex.Edges[j].ID })
	sort.Slice(ex.Comments, func(i, j int) bool { return ex.Comments[i].ID < ex.Comments[j].ID })
	return ex
}

// ImportFile is the body of an import: an Export as SKER writes it, or as
// a person or another tool writes one. A node's geometry that is left out
// takes node.add's defaults, exactly as in a node.add.
type ImportFile struct {
	Version  int                        `json:"version"`
	ID       string                     `json:"id"`
	Title    string                     `json:"title"`
	Settings map[string]json.RawMessage `json:"settings"`
	Seq      uint64                     `json:"seq"`
	Nodes    []*ImportNode              `json:"nodes"`
	Edges    []*Edge                    `json:"edges"`
	// Comments are read and left out: they are a conversation among the
	// members of the canvas they were made on, and a comment's author
	// alone may change it, so the importer cannot re-create them as
	// their own.
	Comments json.RawMessage `json:"comments"`
}

// ImportNode is a node of an ImportFile: a Node whose geometry may be left
// out. Author and times are read and ignored; the import's author and time
// stamp every node, as for any change.
type ImportNode struct {
	ID        string                     `json:"id"`
	Kind      string                     `json:"kind"`
	X         *float64                   `json:"x"`
	Y         *float64                   `json:"y"`
	W         *float64                   `json:"w"`
	H         *float64                   `json:"h"`
	Z         *float64                   `json:"z"`
	Data      map[string]json.RawMessage `json:"data"`
	Author    string                     `json:"author"`
	CreatedAt int64                      `json:"created_at"`
	UpdatedAt int64                      `json:"updated_at"`
}

// ImportOps turns the content of an export into batches of node.add and
// edge.add ops of at most limits.MaxBatchOps each, nodes first, so that an
// import goes through the same validation and journal as any change.
func ImportOps(ex Export, limits Limits) [][]Op {
	f := ImportFile{Edges: ex.Edges}
	for _, n := range ex.Nodes {
		x, y, w, h, z := n.X, n.Y, n.W, n.H, float64(n.Z)
		f.Nodes = append(f.Nodes, &ImportNode{ID: n.ID, Kind: n.Kind, X: &x, Y: &y, W: &w, H: &h, Z: &z, Data: n.Data})
	}
	return f.Ops(limits)
}

// Ops is ImportOps for an ImportFile.
func (f ImportFile) Ops(limits Limits) [][]Op {
	limits = limits.withDefaults()
	var ops []Op
	for _, n := range f.Nodes {
		ops = append(ops, Op{Op: OpNodeAdd, ID: n.ID, Kind: n.Kind, X: n.X, Y: n.Y, W: n.W, H: n.H, Z: n.Z, Data: n.Data})
	}
	for _, e := range f.Edges {
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
