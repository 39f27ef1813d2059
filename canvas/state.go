package canvas

import "encoding/json"

// Limits caps what a canvas and a batch may hold. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	MaxNodes     int // nodes per canvas; default 50,000
	MaxBatchOps  int // ops per batch; default 500
	MaxDataBytes int // JSON bytes of one node's or edge's data; default 64 KiB
}

// DefaultLimits are the limits a zero Limits stands for.
var DefaultLimits = Limits{MaxNodes: 50_000, MaxBatchOps: 500, MaxDataBytes: 64 << 10}

func (l Limits) withDefaults() Limits {
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultLimits.MaxNodes
	}
	if l.MaxBatchOps <= 0 {
		l.MaxBatchOps = DefaultLimits.MaxBatchOps
	}
	if l.MaxDataBytes <= 0 {
		l.MaxDataBytes = DefaultLimits.MaxDataBytes
	}
	return l
}

// Node is a card. A *Node held by State is never modified in place: an
// update replaces it with a changed copy, so a pointer taken earlier stays a
// true picture of the node at that time.
type Node struct {
	ID        string                     `json:"id"`
	Kind      string                     `json:"kind"`
	X         float64                    `json:"x"`
	Y         float64                    `json:"y"`
	W         float64                    `json:"w"`
	H         float64                    `json:"h"`
	Z         int64                      `json:"z"`
	Data      map[string]json.RawMessage `json:"data"`
	Author    string                     `json:"author"`
	CreatedAt int64                      `json:"created_at"`
	UpdatedAt int64                      `json:"updated_at"`
}

// Edge connects Source to Target. Like *Node, never modified in place.
type Edge struct {
	ID        string                     `json:"id"`
	Source    string                     `json:"source"`
	Target    string                     `json:"target"`
	Kind      string                     `json:"kind"`
	Data      map[string]json.RawMessage `json:"data"`
	Author    string                     `json:"author"`
	CreatedAt int64                      `json:"created_at"`
}

// Meta is the canvas's own ops-editable metadata.
type Meta struct {
	Title    string                     `json:"title"`
	Settings map[string]json.RawMessage `json:"settings"`
}

// State is one canvas: metadata, nodes, edges, comments and the seq of the last batch
// applied. Only Apply and Undo change it.
type State struct {
	ID       string
	Meta     Meta
	Seq      uint64
	Nodes    map[string]*Node
	Edges    map[string]*Edge
	Comments map[string]*Comment

	limits Limits
	// links maps a node id to the ids of the edges that touch it, so that
	// deleting a node finds its edges without a scan.
	links map[string]map[string]struct{}
}

// NewState returns an empty canvas.
func NewState(id string, meta Meta, limits Limits) *State {
	if meta.Settings == nil {
		meta.Settings = map[string]json.RawMessage{}
	}
	return &State{
		ID:       id,
		Meta:     meta,
		Nodes:    map[string]*Node{},
		Edges:    map[string]*Edge{},
		Comments: map[string]*Comment{},
		limits:   limits.withDefaults(),
		links:    map[string]map[string]struct{}{},
	}
}

// Limits returns the limits in force.
func (s *State) Limits() Limits { return s.limits }

// PutNode sets a node as loaded from a checkpoint, without validation.
func (s *State) PutNode(n *Node) { s.Nodes[n.ID] = n }

// PutEdge sets an edge as loaded from a checkpoint, without validation.
func (s *State) PutEdge(e *Edge) {
	s.Edges[e.ID] = e
	s.link(e)
}

func (s *State) link(e *Edge) {
	for _, id := range [2]string{e.Source, e.Target} {
		set := s.links[id]
		if set == nil {
			set = map[string]struct{}{}
			s.links[id] = set
		}
		set[e.ID] = struct{}{}
	}
}

func (s *State) unlink(e *Edge) {
	for _, id := range [2]string{e.Source, e.Target} {
		if set := s.links[id]; set != nil {
			delete(set, e.ID)
			if len(set) == 0 {
				delete(s.links, id)
			}
		}
	}
}

// setNode replaces or (with n nil) removes the node id.
func (s *State) setNode(id string, n *Node) {
	if n == nil {
		delete(s.Nodes, id)
		return
	}
	s.Nodes[id] = n
}

// setEdge replaces or (with e nil) removes the edge id, keeping links.
func (s *State) setEdge(id string, e *Edge) {
	if old := s.Edges[id]; old != nil {
		s.unlink(old)
	}
	if e == nil {
		delete(s.Edges, id)
		return
	}
	s.Edges[id] = e
	s.link(e)
}

func cloneRaw(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SetLimits changes the limits in force. Replay of the journal runs with
// generous limits, so that lowering a limit never makes history unreadable.
func (s *State) SetLimits(l Limits) { s.limits = l.withDefaults() }
