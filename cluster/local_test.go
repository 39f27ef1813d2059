package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// memCanvases is a Local kept in memory, for the router's tests: canvases
// with their seqs and batches, deduped by author and client batch id, an
// Owns answer the test sets, and errors or lost answers it injects.
type memCanvases struct {
	mu       sync.Mutex
	owns     bool
	canvases map[string]*memCanvas
	fail     map[string][]error // op -> errors of its next calls, in order
	hang     map[string]int     // op -> how many of its next calls never answer (until their ctx ends)
	calls    map[string]int     // op -> calls made
	finished []string           // "canvas/node/run/status" of each FinishAIRun
}

type memCanvas struct {
	seq     uint64
	trimmed uint64 // history kept starts after it
	batches [][]byte
	authors []string // of each batch, in seq order
	nodes   []*canvas.Node
	cbids   map[string]uint64 // author + "\x00" + client batch id -> seq
}

func newMemCanvases() *memCanvases {
	return &memCanvases{owns: true, canvases: map[string]*memCanvas{}, fail: map[string][]error{},
		hang: map[string]int{}, calls: map[string]int{}}
}

var _ Local = (*memCanvases)(nil)

func (m *memCanvases) Owns(string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owns
}

func (m *memCanvases) setOwns(v bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owns = v
}

// inject makes the next calls of op fail with errs, in order.
func (m *memCanvases) inject(op string, errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[op] = append(m.fail[op], errs...)
}

// hangNext makes the next n calls of op commit (a batch) but never answer.
func (m *memCanvases) hangNext(op string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hang[op] += n
}

func (m *memCanvases) callCount(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// committed returns the authors of canvasID's batches, in seq order.
func (m *memCanvases) committed(canvasID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.canvases[canvasID]; c != nil {
		return append([]string(nil), c.authors...)
	}
	return nil
}

// beginLocked counts a call of op and returns whether it hangs and its injected
// error.
func (m *memCanvases) beginLocked(op string) (hang bool, err error) {
	m.calls[op]++
	if errs := m.fail[op]; len(errs) > 0 {
		m.fail[op] = errs[1:]
		if errs[0] != nil {
			return false, errs[0]
		}
	}
	if m.hang[op] > 0 {
		m.hang[op]--
		return true, nil
	}
	return false, nil
}

func hung(ctx context.Context, canvasID string) error {
	<-ctx.Done()
	return fmt.Errorf("%w: canvas %s did not answer: %w", canvases.ErrUnavailable, canvasID, ctx.Err())
}

func (m *memCanvases) Submit(ctx context.Context, canvasID, author, cbid string, ops []canvas.Op) (uint64, error) {
	return m.SubmitAsync(canvasID, author, cbid, ops)(ctx)
}

// SubmitAsync commits at once, in call order. An injected
// ErrOutcomeUnknown is answered after the batch is committed, as when the
// journal stored it but its answer was lost; a hang commits and never
// answers.
func (m *memCanvases) SubmitAsync(canvasID, author, cbid string, ops []canvas.Op) func(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hang, err := m.beginLocked(opSubmit)
	if err != nil && !errors.Is(err, canvases.ErrOutcomeUnknown) {
		return func(context.Context) (uint64, error) { return 0, err }
	}
	seq := m.commitLocked(canvasID, author, cbid, ops)
	switch {
	case err != nil:
		return func(context.Context) (uint64, error) { return 0, err }
	case hang:
		return func(ctx context.Context) (uint64, error) {
			<-ctx.Done()
			return 0, fmt.Errorf("%w: canvas %s did not answer: %w", canvases.ErrOutcomeUnknown, canvasID, ctx.Err())
		}
	}
	return func(context.Context) (uint64, error) { return seq, nil }
}

func (m *memCanvases) commitLocked(canvasID, author, cbid string, ops []canvas.Op) uint64 {
	c := m.canvases[canvasID]
	if c == nil {
		c = &memCanvas{cbids: map[string]uint64{}}
		m.canvases[canvasID] = c
	}
	key := author + "\x00" + cbid
	if seq, ok := c.cbids[key]; ok && cbid != "" {
		return seq
	}
	c.seq++
	b, _ := json.Marshal(map[string]any{"seq": c.seq, "author": author, "cbid": cbid, "ops": ops, "html": "<&>"})
	c.batches = append(c.batches, b)
	c.authors = append(c.authors, author)
	for _, op := range ops {
		if op.ID != "" {
			c.nodes = append(c.nodes, &canvas.Node{ID: op.ID, Kind: op.Kind, Data: op.Data, Author: author})
		}
	}
	if cbid != "" {
		c.cbids[key] = c.seq
	}
	return c.seq
}

func (m *memCanvases) finishedRuns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.finished...)
}

// trim drops canvasID's history up to seq.
func (m *memCanvases) trim(canvasID string, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.canvases[canvasID].trimmed = seq
}

func (m *memCanvases) canvasLocked(canvasID string) (*memCanvas, error) {
	c := m.canvases[canvasID]
	if c == nil {
		return nil, fmt.Errorf("mem: canvas %s: %w", canvasID, canvases.ErrNotFound)
	}
	return c, nil
}

func (m *memCanvases) exportLocked(canvasID string, c *memCanvas) canvas.Export {
	return canvas.Export{Version: canvas.ExportVersion, ID: canvasID, Title: "t <" + canvasID + ">",
		Settings: map[string]json.RawMessage{}, Seq: c.seq, Nodes: append([]*canvas.Node{}, c.nodes...), Edges: []*canvas.Edge{}}
}

func (m *memCanvases) Snapshot(ctx context.Context, canvasID string) (canvas.Export, error) {
	m.mu.Lock()
	hang, err := m.beginLocked(opSnapshot)
	c, cerr := m.canvasLocked(canvasID)
	var ex canvas.Export
	if cerr == nil {
		ex = m.exportLocked(canvasID, c)
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		return canvas.Export{}, err
	case hang:
		return canvas.Export{}, hung(ctx, canvasID)
	case cerr != nil:
		return canvas.Export{}, cerr
	}
	return ex, nil
}

func (m *memCanvases) Since(ctx context.Context, canvasID string, seq uint64) (canvases.CatchUp, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opSince); err != nil {
		return canvases.CatchUp{}, err
	}
	c, err := m.canvasLocked(canvasID)
	if err != nil {
		return canvases.CatchUp{}, err
	}
	if seq < c.trimmed {
		ex := m.exportLocked(canvasID, c)
		return canvases.CatchUp{Seq: c.seq, Snapshot: &ex}, nil
	}
	return canvases.CatchUp{Seq: c.seq, Batches: append([][]byte(nil), c.batches[seq:]...)}, nil
}

func (m *memCanvases) History(ctx context.Context, canvasID string, since uint64, limit int) ([][]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opHistory); err != nil {
		return nil, 0, err
	}
	c, err := m.canvasLocked(canvasID)
	if err != nil {
		return nil, 0, err
	}
	if since < c.trimmed {
		return nil, c.seq, canvases.ErrHistoryTrimmed
	}
	out := c.batches[since:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return append([][]byte(nil), out...), c.seq, nil
}

func (m *memCanvases) Forget(ctx context.Context, canvasID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opForget); err != nil {
		return err
	}
	delete(m.canvases, canvasID)
	return nil
}

// Checkpoint answers the canvas's seq when it is at least seq.
func (m *memCanvases) Checkpoint(ctx context.Context, canvasID string, seq uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opCheckpoint); err != nil {
		return 0, err
	}
	c, ok := m.canvases[canvasID]
	if !ok {
		return 0, fmt.Errorf("%w: canvas %s", canvases.ErrNotFound, canvasID)
	}
	if c.seq < seq {
		return 0, fmt.Errorf("%w: canvas %s at seq %d, asked for %d", canvases.ErrUnavailable, canvasID, c.seq, seq)
	}
	return c.seq, nil
}

// Epoch answers "epoch-of-<canvas>" and its seq while m owns the canvas
// and holds it.
func (m *memCanvases) Epoch(ctx context.Context, canvasID string) (string, uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opEpoch); err != nil {
		return "", 0, false, err
	}
	c, ok := m.canvases[canvasID]
	if !ok || !m.owns {
		return "", 0, false, nil
	}
	return "epoch-of-" + canvasID, c.seq, true, nil
}

func (m *memCanvases) FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, r canvases.AIResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.beginLocked(opFinishAIRun); err != nil {
		return err
	}
	m.finished = append(m.finished, fmt.Sprintf("%s/%s/%s/%s/%s/%d/%d", canvasID, nodeID, runID, r.Status, r.Text, r.InputTokens, r.OutputTokens))
	return nil
}
