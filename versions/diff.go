package versions

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	"github.com/skerhq/sker/canvas"
)

// Diff is what changed from one state to another: the ids of the nodes and
// edges added, removed and changed (sorted), and whether the title or
// settings changed.
type Diff struct {
	FromSeq      uint64   `json:"from"`
	ToSeq        uint64   `json:"to"`
	NodesAdded   []string `json:"nodes_added"`
	NodesRemoved []string `json:"nodes_removed"`
	NodesChanged []string `json:"nodes_changed"`
	EdgesAdded   []string `json:"edges_added"`
	EdgesRemoved []string `json:"edges_removed"`
	EdgesChanged []string `json:"edges_changed"`
	MetaChanged  bool     `json:"meta_changed"`
}

// Compare returns what changed from a to b. Content counts (kind,
// geometry, data; an edge's ends); who wrote it and when do not.
func Compare(a, b *canvas.State) Diff {
	d := Diff{FromSeq: a.Seq, ToSeq: b.Seq, NodesAdded: []string{}, NodesRemoved: []string{}, NodesChanged: []string{},
		EdgesAdded: []string{}, EdgesRemoved: []string{}, EdgesChanged: []string{}}
	for _, id := range sorted(a.Nodes) {
		if n := b.Nodes[id]; n == nil {
			d.NodesRemoved = append(d.NodesRemoved, id)
		} else if !sameNode(a.Nodes[id], n) {
			d.NodesChanged = append(d.NodesChanged, id)
		}
	}
	for _, id := range sorted(b.Nodes) {
		if a.Nodes[id] == nil {
			d.NodesAdded = append(d.NodesAdded, id)
		}
	}
	for _, id := range sorted(a.Edges) {
		if e := b.Edges[id]; e == nil {
			d.EdgesRemoved = append(d.EdgesRemoved, id)
		} else if !sameEdge(a.Edges[id], e) {
			d.EdgesChanged = append(d.EdgesChanged, id)
		}
	}
	for _, id := range sorted(b.Edges) {
		if a.Edges[id] == nil {
			d.EdgesAdded = append(d.EdgesAdded, id)
		}
	}
	d.MetaChanged = a.Meta.Title != b.Meta.Title || !sameRaw(a.Meta.Settings, b.Meta.Settings)
	return d
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	return len(d.NodesAdded)+len(d.NodesRemoved)+len(d.NodesChanged)+
		len(d.EdgesAdded)+len(d.EdgesRemoved)+len(d.EdgesChanged) == 0 && !d.MetaChanged
}

// RestoreOps is the one batch that turns the content of cur into that of
// target: edge deletions, node deletions, node additions and updates, edge
// additions, then the title and settings. A node whose kind differs is
// deleted and added again (an update cannot change a kind), and the edges
// that touch it with it. Nil when there is nothing to change. Comments are
// left as they are: a restore brings back content, not a conversation, and
// only a comment's author may change it.
func RestoreOps(cur, target *canvas.State) []canvas.Op {
	recreate := map[string]bool{}
	for id, n := range cur.Nodes {
		if t := target.Nodes[id]; t != nil && t.Kind != n.Kind {
			recreate[id] = true
		}
	}
	touches := func(e *canvas.Edge) bool { return recreate[e.Source] || recreate[e.Target] }
	var ops []canvas.Op
	for _, id := range sorted(cur.Edges) {
		e, t := cur.Edges[id], target.Edges[id]
		if t == nil || !sameEdge(e, t) || touches(e) {
			ops = append(ops, canvas.Op{Op: canvas.OpEdgeDelete, ID: id})
		}
	}
	for _, id := range sorted(cur.Nodes) {
		if target.Nodes[id] == nil || recreate[id] {
			ops = append(ops, canvas.Op{Op: canvas.OpNodeDelete, ID: id})
		}
	}
	for _, id := range sorted(target.Nodes) {
		t, n := target.Nodes[id], cur.Nodes[id]
		switch {
		case n == nil || recreate[id]:
			ops = append(ops, addNode(t))
		case !sameNode(n, t):
			ops = append(ops, updateNode(n, t))
		}
	}
	for _, id := range sorted(target.Edges) {
		t, e := target.Edges[id], cur.Edges[id]
		if e == nil || !sameEdge(e, t) || touches(t) {
			ops = append(ops, canvas.Op{Op: canvas.OpEdgeAdd, ID: id, Source: t.Source, Target: t.Target, Kind: t.Kind, Data: nonNil(t.Data)})
		}
	}
	if op, ok := metaOp(cur.Meta, target.Meta); ok {
		ops = append(ops, op)
	}
	return ops
}

func addNode(t *canvas.Node) canvas.Op {
	z := float64(t.Z)
	return canvas.Op{Op: canvas.OpNodeAdd, ID: t.ID, Kind: t.Kind, X: ptr(t.X), Y: ptr(t.Y), W: ptr(t.W), H: ptr(t.H), Z: &z, Data: nonNil(t.Data)}
}

func updateNode(n, t *canvas.Node) canvas.Op {
	set := map[string]json.RawMessage{}
	num := func(key string, a, b float64) {
		if a != b {
			v, _ := json.Marshal(b)
			set[key] = v
		}
	}
	num("x", n.X, t.X)
	num("y", n.Y, t.Y)
	num("w", n.W, t.W)
	num("h", n.H, t.H)
	num("z", float64(n.Z), float64(t.Z))
	var unset []string
	for _, k := range sorted(t.Data) {
		if v, ok := n.Data[k]; !ok || !bytes.Equal(v, t.Data[k]) {
			set["data."+k] = t.Data[k]
		}
	}
	for _, k := range sorted(n.Data) {
		if _, ok := t.Data[k]; !ok {
			unset = append(unset, "data."+k)
		}
	}
	op := canvas.Op{Op: canvas.OpNodeUpdate, ID: t.ID, Unset: unset}
	if len(set) > 0 {
		op.Set = set
	}
	return op
}

func metaOp(cur, target canvas.Meta) (canvas.Op, bool) {
	op := canvas.Op{Op: canvas.OpCanvasUpdate}
	if cur.Title != target.Title {
		op.Title = ptr(target.Title)
	}
	settings := map[string]json.RawMessage{}
	for k, v := range target.Settings {
		if old, ok := cur.Settings[k]; !ok || !bytes.Equal(old, v) {
			settings[k] = v
		}
	}
	for k := range cur.Settings {
		if _, ok := target.Settings[k]; !ok {
			settings[k] = json.RawMessage("null")
		}
	}
	if len(settings) > 0 {
		op.Settings = settings
	}
	return op, op.Title != nil || op.Settings != nil
}

func sameNode(a, b *canvas.Node) bool {
	return a.Kind == b.Kind && a.X == b.X && a.Y == b.Y && a.W == b.W && a.H == b.H && a.Z == b.Z && sameRaw(a.Data, b.Data)
}

func sameEdge(a, b *canvas.Edge) bool {
	return a.Source == b.Source && a.Target == b.Target && a.Kind == b.Kind && sameRaw(a.Data, b.Data)
}

func sameRaw(a, b map[string]json.RawMessage) bool {
	return maps.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

func sorted[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func ptr[T any](v T) *T { return &v }

func nonNil(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}
