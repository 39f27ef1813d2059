package canvas

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/skerhq/sker/apierr"
)

// Node and edge kinds a canvas accepts.
var (
	NodeKinds = map[string]bool{"text": true, "note": true, "image": true, "ai": true, "file": true}
	EdgeKinds = map[string]bool{"default": true}
)

// Bounds for numbers and sizes that are not configurable.
const (
	MaxCoord         = 1e7
	MaxSize          = 1e5
	MaxZ             = 1e9
	MaxTitleLen      = 200
	MaxSettingsBytes = 16 << 10
	MaxIDLen         = 64
	MaxKeyLen        = 100
	defaultW         = 240
	defaultH         = 120
)

// Undo holds what a batch replaced, so the batch can be reverted and so the
// value before it can be read back. Only the first touch of each id is kept.
type Undo struct {
	// The first node the batch touched is kept in firstID and first, the
	// others in nodes: most batches touch one node, and a map costs two
	// allocations.
	firstID  string
	first    *Node            // previous value; nil: the node did not exist
	hasFirst bool             // firstID and first are set
	nodes    map[string]*Node // previous values of the other nodes
	edges    map[string]*Edge
	comments map[string]*Comment
	meta     *Meta
	seq      uint64
}

// PrevNode returns the node id as it was before the batch and whether the
// batch touched it at all.
func (u *Undo) PrevNode(id string) (n *Node, touched bool) {
	if u.hasFirst && id == u.firstID {
		return u.first, true
	}
	n, touched = u.nodes[id]
	return n, touched
}

// PrevEdge is PrevNode for edges.
func (u *Undo) PrevEdge(id string) (e *Edge, touched bool) {
	e, touched = u.edges[id]
	return e, touched
}

// PrevMeta returns the metadata before the batch, or nil when untouched.
func (u *Undo) PrevMeta() *Meta { return u.meta }

// NodeIDs and EdgeIDs list the ids the batch touched.
func (u *Undo) NodeIDs() []string {
	ids := keys(u.nodes)
	if u.hasFirst {
		ids = append(ids, u.firstID)
	}
	return ids
}

// EdgeIDs lists the edge ids the batch touched.
func (u *Undo) EdgeIDs() []string { return keys(u.edges) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (u *Undo) saveNode(s *State, id string) {
	switch {
	case !u.hasFirst:
		u.firstID, u.first, u.hasFirst = id, s.Nodes[id], true
		return
	case id == u.firstID:
		return
	case u.nodes == nil:
		u.nodes = map[string]*Node{}
	}
	if _, ok := u.nodes[id]; !ok {
		u.nodes[id] = s.Nodes[id]
	}
}

func (u *Undo) saveEdge(s *State, id string) {
	if u.edges == nil {
		u.edges = map[string]*Edge{}
	}
	if _, ok := u.edges[id]; !ok {
		u.edges[id] = s.Edges[id]
	}
}

// Apply validates b against the current state and applies it as one unit:
// on success the state has every op and Seq is one higher; on error the
// state is exactly as before and the error is an *OpError.
func (s *State) Apply(b Batch) (*Undo, error) {
	if len(b.Ops) == 0 {
		return nil, &OpError{Code: apierr.CodeEmptyBatch, Message: "a batch needs at least one op", Index: -1}
	}
	if len(b.Ops) > s.limits.MaxBatchOps {
		return nil, opErr(-1, apierr.CodeBatchTooLarge, "%d ops; at most %d per batch", len(b.Ops), s.limits.MaxBatchOps)
	}
	// The maps are made on first use: most batches touch no edge.
	u := &Undo{seq: s.Seq}
	for i := range b.Ops {
		if err := s.applyOp(i, &b.Ops[i], b, u); err != nil {
			s.Revert(u)
			return nil, err
		}
	}
	s.Seq++
	return u, nil
}

// Revert undoes the batch that produced u. Batches must be reverted newest
// first.
func (s *State) Revert(u *Undo) {
	if u.hasFirst {
		s.setNode(u.firstID, u.first)
	}
	for id, n := range u.nodes {
		s.setNode(id, n)
	}
	for id, e := range u.edges {
		s.setEdge(id, e)
	}
	for id, c := range u.comments {
		s.setComment(id, c)
	}
	if u.meta != nil {
		s.Meta = *u.meta
	}
	s.Seq = u.seq
}

func (s *State) applyOp(i int, op *Op, b Batch, u *Undo) error {
	switch op.Op {
	case OpNodeAdd:
		return s.nodeAdd(i, op, b, u)
	case OpNodeUpdate:
		return s.nodeUpdate(i, op, b, u)
	case OpNodeDelete:
		return s.nodeDelete(i, op, u)
	case OpEdgeAdd:
		return s.edgeAdd(i, op, b, u)
	case OpEdgeDelete:
		return s.edgeDelete(i, op, u)
	case OpCanvasUpdate:
		return s.canvasUpdate(i, op, u)
	case OpCommentAdd:
		return s.commentAdd(i, op, b, u)
	case OpCommentUpdate:
		return s.commentUpdate(i, op, b, u)
	case OpCommentDelete:
		return s.commentDelete(i, op, b, u)
	case "":
		return opErr(i, apierr.CodeInvalidOp, "op is required")
	default:
		return opErr(i, apierr.CodeUnknownOp, "unknown op %q", op.Op)
	}
}

func (s *State) nodeAdd(i int, op *Op, b Batch, u *Undo) error {
	if err := checkID(i, op.ID); err != nil {
		return err
	}
	if err := onlyFields(i, op, fID|fKind|fX|fY|fW|fH|fZ|fData); err != nil {
		return err
	}
	if s.Nodes[op.ID] != nil {
		return opErr(i, apierr.CodeDuplicateID, "node %q already exists", op.ID)
	}
	if op.Kind == "" {
		return opErr(i, apierr.CodeInvalidOp, "node.add needs a kind")
	}
	if !NodeKinds[op.Kind] {
		return opErr(i, apierr.CodeKindNotAllowed, "node kind %q is not allowed", op.Kind)
	}
	if len(s.Nodes) >= s.limits.MaxNodes {
		return opErr(i, apierr.CodeCanvasFull, "the canvas holds its maximum of %d nodes", s.limits.MaxNodes)
	}
	n := &Node{ID: op.ID, Kind: op.Kind, W: defaultW, H: defaultH, Author: b.Author, CreatedAt: b.At, UpdatedAt: b.At}
	for _, f := range []struct {
		name string
		v    *float64
		dst  *float64
	}{{"x", op.X, &n.X}, {"y", op.Y, &n.Y}, {"w", op.W, &n.W}, {"h", op.H, &n.H}} {
		if f.v != nil {
			if err := setGeometry(i, n, f.name, PositiveZero(*f.v)); err != nil {
				return err
			}
		}
	}
	if op.Z != nil {
		if err := setGeometry(i, n, "z", *op.Z); err != nil {
			return err
		}
	}
	data, err := s.cleanData(i, op.Data, "data")
	if err != nil {
		return err
	}
	n.Data = positiveZerosIn(data)
	u.saveNode(s, n.ID)
	s.setNode(n.ID, n)
	return nil
}

func (s *State) nodeUpdate(i int, op *Op, b Batch, u *Undo) error {
	if err := onlyFields(i, op, fID|fSet|fUnset); err != nil {
		return err
	}
	old := s.Nodes[op.ID]
	if old == nil {
		return opErr(i, apierr.CodeUnknownID, "no node %q", op.ID)
	}
	if len(op.Set) == 0 && len(op.Unset) == 0 {
		return opErr(i, apierr.CodeInvalidOp, "node.update needs set or unset")
	}
	n := *old
	n.Data = cloneRaw(old.Data)
	// Keys in order, so that the error reported for a bad batch does not
	// depend on map iteration.
	var keyBuf [8]string
	for _, key := range sortedKeys(keyBuf[:0], op.Set) {
		raw := op.Set[key]
		if dk, ok := strings.CutPrefix(key, "data."); ok {
			if err := checkKey(i, dk, "set"); err != nil {
				return err
			}
			v, err := compactValue(i, raw, key)
			if err != nil {
				return err
			}
			n.Data[dk] = PositiveZeros(v)
			continue
		}
		f, err := geometryValue(i, key, raw)
		if err != nil {
			return err
		}
		if err := setGeometry(i, &n, key, PositiveZero(f)); err != nil {
			return err
		}
	}
	for _, key := range op.Unset {
		dk, ok := strings.CutPrefix(key, "data.")
		if !ok {
			return opErr(i, apierr.CodeInvalidOp, "unset %q: only data.<key> can be unset", key)
		}
		if _, both := op.Set[key]; both {
			return opErr(i, apierr.CodeInvalidOp, "%q is both set and unset", key)
		}
		if err := checkKey(i, dk, "unset"); err != nil {
			return err
		}
		delete(n.Data, dk)
	}
	if size := dataSize(n.Data); size > s.limits.MaxDataBytes {
		return opErr(i, apierr.CodeDataTooLarge, "node data would be %d bytes; at most %d", size, s.limits.MaxDataBytes)
	}
	n.UpdatedAt = b.At
	u.saveNode(s, n.ID)
	s.setNode(n.ID, &n)
	return nil
}

func (s *State) nodeDelete(i int, op *Op, u *Undo) error {
	if err := onlyFields(i, op, fID); err != nil {
		return err
	}
	if s.Nodes[op.ID] == nil {
		return opErr(i, apierr.CodeUnknownID, "no node %q", op.ID)
	}
	for eid := range s.links[op.ID] {
		u.saveEdge(s, eid)
		s.setEdge(eid, nil)
	}
	u.saveNode(s, op.ID)
	s.setNode(op.ID, nil)
	return nil
}

func (s *State) edgeAdd(i int, op *Op, b Batch, u *Undo) error {
	if err := checkID(i, op.ID); err != nil {
		return err
	}
	if err := onlyFields(i, op, fID|fKind|fSource|fTarget|fData); err != nil {
		return err
	}
	if s.Edges[op.ID] != nil {
		return opErr(i, apierr.CodeDuplicateID, "edge %q already exists", op.ID)
	}
	kind := op.Kind
	if kind == "" {
		kind = "default"
	}
	if !EdgeKinds[kind] {
		return opErr(i, apierr.CodeKindNotAllowed, "edge kind %q is not allowed", kind)
	}
	for _, end := range [2]string{op.Source, op.Target} {
		if end == "" {
			return opErr(i, apierr.CodeInvalidOp, "edge.add needs a source and a target")
		}
		if s.Nodes[end] == nil {
			return opErr(i, apierr.CodeMissingNode, "no node %q to connect", end)
		}
	}
	if op.Source == op.Target {
		return opErr(i, apierr.CodeInvalidOp, "an edge cannot connect node %q to itself", op.Source)
	}
	data, err := s.cleanData(i, op.Data, "data")
	if err != nil {
		return err
	}
	e := &Edge{ID: op.ID, Source: op.Source, Target: op.Target, Kind: kind, Data: positiveZerosIn(data), Author: b.Author, CreatedAt: b.At}
	u.saveEdge(s, e.ID)
	s.setEdge(e.ID, e)
	return nil
}

func (s *State) edgeDelete(i int, op *Op, u *Undo) error {
	if err := onlyFields(i, op, fID); err != nil {
		return err
	}
	if s.Edges[op.ID] == nil {
		return opErr(i, apierr.CodeUnknownID, "no edge %q", op.ID)
	}
	u.saveEdge(s, op.ID)
	s.setEdge(op.ID, nil)
	return nil
}

func (s *State) canvasUpdate(i int, op *Op, u *Undo) error {
	if err := onlyFields(i, op, fTitle|fSettings); err != nil {
		return err
	}
	// len, not nil: "settings":{} is dropped when the op is encoded for the
	// journal (omitempty), and replay must accept what was accepted live.
	if op.Title == nil && len(op.Settings) == 0 {
		return opErr(i, apierr.CodeInvalidOp, "canvas.update needs a title or settings")
	}
	meta := Meta{Title: s.Meta.Title, Settings: s.Meta.Settings}
	if op.Title != nil {
		t := strings.TrimSpace(*op.Title)
		if t == "" || utf8.RuneCountInString(t) > MaxTitleLen || !utf8.ValidString(t) {
			return opErr(i, apierr.CodeInvalidOp, "title: want 1 to %d characters", MaxTitleLen)
		}
		meta.Title = t
	}
	if op.Settings != nil {
		meta.Settings = cloneRaw(s.Meta.Settings)
		for k, raw := range op.Settings {
			if err := checkKey(i, k, "settings"); err != nil {
				return err
			}
			if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				delete(meta.Settings, k)
				continue
			}
			v, err := compactValue(i, raw, "settings."+k)
			if err != nil {
				return err
			}
			meta.Settings[k] = PositiveZeros(v)
		}
		if size := dataSize(meta.Settings); size > MaxSettingsBytes {
			return opErr(i, apierr.CodeDataTooLarge, "settings would be %d bytes; at most %d", size, MaxSettingsBytes)
		}
	}
	if u.meta == nil {
		prev := s.Meta
		u.meta = &prev
	}
	s.Meta = meta
	return nil
}

// positiveZerosIn applies PositiveZeros to the values of m, a map of its
// caller's own, in place, and returns m.
func positiveZerosIn(m map[string]json.RawMessage) map[string]json.RawMessage {
	for k, v := range m {
		m[k] = PositiveZeros(v)
	}
	return m
}

// sortedKeys appends the keys of m to buf, sorted; with room in buf (an
// array on the caller's stack) it allocates nothing.
func sortedKeys[V any](buf []string, m map[string]V) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// geometryValue reads the number set for a geometry property: null and
// non-numbers are invalid_op, numbers out of float64's range invalid_number.
// It accepts what json.Unmarshal into a float64 accepts: a JSON number
// literal that strconv.ParseFloat can represent.
func geometryValue(i int, key string, raw json.RawMessage) (float64, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || !(t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
		return 0, opErr(i, apierr.CodeInvalidOp, "set.%s: want a number (or use data.<key> for data)", key)
	}
	if isJSONNumber(t) {
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return f, nil
		}
	}
	return 0, opErr(i, apierr.CodeInvalidNumber, "set.%s: %s is out of range", key, t)
}

// isJSONNumber reports whether s is exactly one JSON number literal:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s []byte) bool {
	digits := func(s []byte) []byte {
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
		return s
	}
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	switch {
	case len(s) == 0:
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = digits(s[1:])
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = digits(s[2:])
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if len(s) == 0 {
				return false
			}
		}
		s = digits(s)
	}
	return len(s) == 0
}
