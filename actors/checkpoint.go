package actors

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
)

// checkpointer tracks what changed since the store's checkpoint. Touched only
// by the canvas actor's goroutine.
type checkpointer struct {
	seq     uint64   // the store's checkpoint seq
	ops     int      // ops committed since the last checkpoint started
	dirty   dirtySet // what changed since the last checkpoint started
	running bool
	taken   *dirtySet // what the checkpoint in flight covers
	// takenStream is the journal's last record when the checkpoint in
	// flight started: that record ends with the checkpoint's seq, so every
	// record up to it is covered.
	takenStream uint64
	finalTried  bool
	// trimmed is the canvas seq up to which the journal was last trimmed.
	trimmed uint64
	// lastPoint is when the last automatic version was taken.
	lastPoint time.Time
}

// dirtySet is the ids of the nodes, edges and comments to write or delete
// at the next checkpoint, and whether the metadata changed.
type dirtySet struct {
	nodes, edges, comments map[string]struct{}
	meta                   bool
}

func newDirtySet() dirtySet {
	return dirtySet{nodes: map[string]struct{}{}, edges: map[string]struct{}{}, comments: map[string]struct{}{}}
}

// mark records the ids a batch touched, deleted ones included.
func (d *dirtySet) mark(u *canvas.Undo) {
	for _, id := range u.NodeIDs() {
		d.nodes[id] = struct{}{}
	}
	for _, id := range u.EdgeIDs() {
		d.edges[id] = struct{}{}
	}
	for _, id := range u.CommentIDs() {
		d.comments[id] = struct{}{}
	}
	d.meta = d.meta || u.PrevMeta() != nil
}

// merge adds what o holds: the batches replayed at activation (which the
// store does not have, and some of which may have deleted rows it holds),
// or what a failed checkpoint covered.
func (d *dirtySet) merge(o *dirtySet) {
	for id := range o.nodes {
		d.nodes[id] = struct{}{}
	}
	for id := range o.edges {
		d.edges[id] = struct{}{}
	}
	for id := range o.comments {
		d.comments[id] = struct{}{}
	}
	d.meta = d.meta || o.meta
}

func newCheckpointer() checkpointer {
	return checkpointer{dirty: newDirtySet()}
}

func (a *canvasActor) onTick() {
	if a.phase != phaseLive {
		return
	}
	if a.committed > a.cp.seq {
		a.startCheckpoint()
	}
	a.expireAIRuns(false)
	a.after(a.tickInterval(false), &checkpointTick{epoch: a.epoch})
}

// tickInterval is the wait before the next checkpoint tick. Canvases
// activated together (after a restart, or by a client opening many) must
// not checkpoint and trim all at the same moment: the first tick comes at
// a random point of the interval, the later ones CheckpointInterval less
// up to an eighth apart, so that they stay spread.
func (a *canvasActor) tickInterval(first bool) time.Duration {
	d := a.hub.cfg.CheckpointInterval
	if first {
		return d/8 + rand.N(d-d/8+1)
	}
	return d - rand.N(d/8+1)
}

// startCheckpoint writes the committed changes since the last checkpoint to
// the store, on another goroutine. One checkpoint runs at a time.
func (a *canvasActor) startCheckpoint() {
	if a.cp.running || a.committed <= a.cp.seq {
		return
	}
	taken := &dirtySet{}
	*taken, a.cp.dirty = a.cp.dirty, newDirtySet()
	a.cp.ops = 0
	a.cp.running = true
	a.cp.taken = taken
	a.cp.takenStream = a.streamSeq

	unc := a.uncommitted()
	d := store.CheckpointDelta{CanvasID: a.id, FromSeq: a.cp.seq, Seq: a.committed, At: a.hub.cfg.Now()}
	for id := range taken.nodes {
		if n := a.committedNode(id, unc); n != nil {
			d.PutNodes = append(d.PutNodes, nodeToStore(n))
		} else {
			d.DeleteNodes = append(d.DeleteNodes, id)
		}
	}
	for id := range taken.edges {
		if e := a.committedEdge(id, unc); e != nil {
			d.PutEdges = append(d.PutEdges, edgeToStore(e))
		} else {
			d.DeleteEdges = append(d.DeleteEdges, id)
		}
	}
	for id := range taken.comments {
		if c := a.committedComment(id, unc); c != nil {
			d.PutComments = append(d.PutComments, commentToStore(c))
		} else {
			d.DeleteComments = append(d.DeleteComments, id)
		}
	}
	if taken.meta {
		meta := a.st.Meta
		for _, e := range unc {
			if m := e.undo.PrevMeta(); m != nil {
				meta = *m
				break
			}
		}
		settings, _ := json.Marshal(meta.Settings)
		d.Meta = &store.CanvasMeta{Title: meta.Title, Settings: settings}
	}
	epoch, st, timeout := a.epoch, a.hub.cfg.Store, a.hub.cfg.CheckpointTimeout
	self, root := a.self, a.hub.system.Root
	m := a.hub.metrics
	keep, point := a.pointDue(d.At)
	id, log := a.id, a.log
	a.hub.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		err := st.SaveCheckpoint(ctx, d)
		if err == nil && point != nil {
			// Before checkpointDone, so before the trim that follows it.
			if perr := keep(ctx, id, *point); perr != nil {
				log.Warn("automatic version not kept", "err", perr, "seq", point.Seq)
			}
		}
		m.checkpointTime.Observe(time.Since(start).Seconds())
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		m.checkpoints.WithLabelValues(outcome).Inc()
		root.Send(self, &checkpointDone{epoch: epoch, seq: d.Seq, err: err})
	})
}

// pointDue returns, when an automatic version is due at now, the hook and
// the committed state to keep.
func (a *canvasActor) pointDue(now time.Time) (func(context.Context, string, canvas.Export) error, *canvas.Export) {
	keep := a.hub.cfg.KeepPoint
	if keep == nil || (!a.cp.lastPoint.IsZero() && now.Sub(a.cp.lastPoint) < a.hub.cfg.PointSpacing) {
		return nil, nil
	}
	a.cp.lastPoint = now
	ex := a.committedExport()
	return keep, &ex
}

func (a *canvasActor) onCheckpointDone(ctx actor.Context, m *checkpointDone) {
	a.cp.running = false
	taken := a.cp.taken
	a.cp.taken = nil
	if m.err != nil {
		// Put back what the failed checkpoint covered; the next one retries.
		a.cp.dirty.merge(taken)
		a.answerCheckpointWaiters(m.err)
		if errors.Is(m.err, store.ErrConflict) {
			a.fail(ctx, "another owner checkpointed this canvas", m.err)
			return
		}
		a.log.Warn("checkpoint failed; the journal keeps the changes", "err", m.err, "seq", m.seq)
		// The changes are durable in the journal; only the store lags.
		a.releaseMetaWaiters(m.seq)
		a.maybeFinish(ctx)
		return
	}
	a.cp.seq = m.seq
	a.releaseMetaWaiters(m.seq)
	waiting := a.answerCheckpointWaiters(nil)
	a.trim()
	if a.phase == phaseLive && (a.cp.ops >= a.hub.cfg.CheckpointOps || a.cp.dirty.meta || len(a.metaWaiters) > 0 || waiting) {
		a.startCheckpoint()
	}
	a.maybeFinish(ctx)
}

// trim removes journal records that the checkpoint covers and that are older
// than the history kept for catch-up.
//
// A trim is a purge of the journal stream, which holds the stream (every
// canvas's appends) while it runs, so it waits until a history's worth of
// batches can go rather than following every checkpoint, and the node runs
// one at a time.
func (a *canvasActor) trim() {
	// Records up to takenStream are covered; the last record, the fence,
	// always stays.
	keepFrom := min(a.cp.takenStream+1, a.streamSeq)
	covered := a.cp.seq // batches that may go
	if old, ok := a.history.oldest(); ok && old.streamSeq < keepFrom {
		keepFrom = old.streamSeq
		covered = old.seq - 1
	}
	if covered < a.cp.trimmed+uint64(a.hub.cfg.History) {
		return
	}
	a.cp.trimmed = covered
	j, id, log, sem, timeout := a.hub.cfg.Journal, a.id, a.log, a.hub.trims, a.hub.cfg.TrimTimeout
	a.hub.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-ctx.Done():
			return // the next trim covers these records
		}
		if err := j.Trim(ctx, id, keepFrom); err != nil {
			log.Warn("journal trim failed", "err", err)
		}
	})
}

func nodeToStore(n *canvas.Node) store.Node {
	data, _ := json.Marshal(n.Data)
	return store.Node{
		ID: n.ID, Kind: n.Kind, X: n.X, Y: n.Y, W: n.W, H: n.H, Z: n.Z, Data: data,
		AuthorID: n.Author, CreatedAt: time.UnixMilli(n.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(n.UpdatedAt).UTC(),
	}
}

func commentToStore(c *canvas.Comment) store.Comment {
	body, _ := json.Marshal(c)
	return store.Comment{ID: c.ID, Thread: c.Thread, AuthorID: c.Author, Seq: c.Seq, Mentions: c.Mentions, Body: body}
}

func edgeToStore(e *canvas.Edge) store.Edge {
	data, _ := json.Marshal(e.Data)
	return store.Edge{
		ID: e.ID, Source: e.Source, Target: e.Target, Kind: e.Kind, Data: data,
		AuthorID: e.Author, CreatedAt: time.UnixMilli(e.CreatedAt).UTC(),
	}
}
