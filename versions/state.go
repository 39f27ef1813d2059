package versions

import (
	"encoding/json"
	"fmt"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/journal"
)

// replayLimits are the limits of a replay: lowering a limit never makes
// history unreadable (as in the canvas actor's own replay).
var replayLimits = canvas.Limits{MaxNodes: 1 << 30, MaxBatchOps: 1 << 30, MaxDataBytes: 1 << 30}

// EncodeState is the kept form of a state: its canonical export as JSON.
func EncodeState(st *canvas.State) []byte {
	b, _ := json.Marshal(st.Export())
	return b
}

// DecodeState rebuilds a state from its kept form. Anything but a JSON
// export whose nodes, edges and comments have ids, unique, whose edges
// join nodes it holds and whose replies answer threads it holds is
// ErrBadState.
func DecodeState(b []byte) (*canvas.State, error) {
	var ex canvas.Export
	if err := json.Unmarshal(b, &ex); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	return FromExport(ex)
}

// FromExport builds a state from an export, checking what DecodeState
// checks.
func FromExport(ex canvas.Export) (*canvas.State, error) {
	st := canvas.NewState(ex.ID, canvas.Meta{Title: ex.Title, Settings: ex.Settings}, replayLimits)
	st.Seq = ex.Seq
	for i, n := range ex.Nodes {
		if n == nil || n.ID == "" {
			return nil, fmt.Errorf("%w: node %d has no id", ErrBadState, i)
		}
		if st.Nodes[n.ID] != nil {
			return nil, fmt.Errorf("%w: node %q twice", ErrBadState, n.ID)
		}
		if n.Data == nil {
			n.Data = map[string]json.RawMessage{}
		}
		st.PutNode(n)
	}
	for i, e := range ex.Edges {
		if e == nil || e.ID == "" {
			return nil, fmt.Errorf("%w: edge %d has no id", ErrBadState, i)
		}
		if st.Edges[e.ID] != nil {
			return nil, fmt.Errorf("%w: edge %q twice", ErrBadState, e.ID)
		}
		if st.Nodes[e.Source] == nil || st.Nodes[e.Target] == nil {
			return nil, fmt.Errorf("%w: edge %q joins a node the state does not hold", ErrBadState, e.ID)
		}
		if e.Data == nil {
			e.Data = map[string]json.RawMessage{}
		}
		st.PutEdge(e)
	}
	for i, c := range ex.Comments {
		if c == nil || c.ID == "" {
			return nil, fmt.Errorf("%w: comment %d has no id", ErrBadState, i)
		}
		if st.Comments[c.ID] != nil {
			return nil, fmt.Errorf("%w: comment %q twice", ErrBadState, c.ID)
		}
		st.PutComment(c)
	}
	for _, c := range ex.Comments {
		if t := st.Comments[c.Thread]; c.Thread != "" && (t == nil || t.Thread != "") {
			return nil, fmt.Errorf("%w: comment %q replies to %q, which is not a thread it holds", ErrBadState, c.ID, c.Thread)
		}
	}
	return st, nil
}

// Replay applies the batches after st.Seq up to seq, in order, to st. The
// batches must follow st.Seq without a gap (ErrNotRebuildable names the
// first missing seq); those at or before st.Seq are skipped.
func Replay(st *canvas.State, batches []journal.Committed, seq uint64) error {
	for i := range batches {
		b := &batches[i]
		if b.Seq <= st.Seq {
			continue
		}
		if b.Seq > seq {
			break
		}
		if b.Seq != st.Seq+1 {
			return fmt.Errorf("%w: the journal no longer holds batch %d (it starts at %d) and no kept state lies between", ErrNotRebuildable, st.Seq+1, b.Seq)
		}
		if _, err := st.Apply(b.Batch()); err != nil {
			return fmt.Errorf("versions: replay batch %d: %w", b.Seq, err)
		}
	}
	if st.Seq < seq {
		return fmt.Errorf("%w: the journal holds no batch %d", ErrNotRebuildable, st.Seq+1)
	}
	return nil
}
