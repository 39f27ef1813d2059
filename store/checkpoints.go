package store

import (
	"context"
	"fmt"
	"time"
)

const (
	nodeCols = "canvas_id, id, kind, x, y, w, h, z, data, author_id, created_at, updated_at"
	edgeCols = "canvas_id, id, source, target, kind, data, author_id, created_at"
)

// The statements that write nodes and edges, one per batch size.
var (
	nodeUpserts = newBatchStmts(func(size int) string {
		return "INSERT INTO nodes (" + nodeCols + ") VALUES " + placeholders(size, 12) +
			" ON CONFLICT (canvas_id, id) DO UPDATE SET kind = excluded.kind," +
			" x = excluded.x, y = excluded.y, w = excluded.w, h = excluded.h, z = excluded.z," +
			" data = excluded.data, author_id = excluded.author_id," +
			" created_at = excluded.created_at, updated_at = excluded.updated_at"
	})
	edgeUpserts = newBatchStmts(func(size int) string {
		return "INSERT INTO edges (" + edgeCols + ") VALUES " + placeholders(size, 8) +
			" ON CONFLICT (canvas_id, id) DO UPDATE SET source = excluded.source," +
			" target = excluded.target, kind = excluded.kind, data = excluded.data," +
			" author_id = excluded.author_id, created_at = excluded.created_at"
	})
	nodeDeletes = newBatchStmts(func(size int) string {
		return "DELETE FROM nodes WHERE canvas_id = ? AND id IN " + placeholders(1, size)
	})
	edgeDeletes = newBatchStmts(func(size int) string {
		return "DELETE FROM edges WHERE canvas_id = ? AND id IN " + placeholders(1, size)
	})
)

// LoadCheckpoint implements Store. A canvas never checkpointed has Seq 0
// and empty, non-nil Nodes and Edges. Seq and content are read in one
// snapshot, so they always match.
func (s *sqlStore) LoadCheckpoint(ctx context.Context, canvasID string) (Checkpoint, error) {
	cp := Checkpoint{CanvasID: canvasID, Nodes: []Node{}, Edges: []Edge{}, Comments: []Comment{}}
	err := s.inSnapshot(ctx, func(q querier) error {
		var seq int64
		err := queryOne(ctx, q,
			"SELECT COALESCE(k.seq, 0) FROM canvases c LEFT JOIN checkpoints k ON k.canvas_id = c.id WHERE c.id = ?",
			[]any{canvasID}, &seq)
		if err != nil {
			return err
		}
		cp.Seq = uint64(seq)
		err = queryAll(ctx, q, "SELECT "+nodeCols+" FROM nodes WHERE canvas_id = ? ORDER BY id", []any{canvasID},
			func(r rows) error {
				var n Node
				err := r.Scan(new(string), &n.ID, &n.Kind, &n.X, &n.Y, &n.W, &n.H, &n.Z, (*[]byte)(&n.Data),
					&n.AuthorID, timeCol{&n.CreatedAt}, timeCol{&n.UpdatedAt})
				cp.Nodes = append(cp.Nodes, n)
				return err
			})
		if err != nil {
			return err
		}
		err = queryAll(ctx, q, "SELECT "+edgeCols+" FROM edges WHERE canvas_id = ? ORDER BY id", []any{canvasID},
			func(r rows) error {
				var e Edge
				err := r.Scan(new(string), &e.ID, &e.Source, &e.Target, &e.Kind, (*[]byte)(&e.Data),
					&e.AuthorID, timeCol{&e.CreatedAt})
				cp.Edges = append(cp.Edges, e)
				return err
			})
		if err != nil {
			return err
		}
		return loadComments(ctx, q, canvasID, &cp)
	})
	if err != nil {
		return Checkpoint{}, s.fail(err, "load checkpoint of canvas %s", canvasID)
	}
	return cp, nil
}

// SaveCheckpoint implements Store. In one transaction it sets the
// canvas's updated_at to d.At (with its title and settings when d.Meta is
// set), moves the stored seq from d.FromSeq to d.Seq, upserts the put
// nodes and edges, then deletes the deleted ones. An unknown canvas is
// ErrNotFound; a stale writer (ErrConflict) changes nothing.
//
// The canvas row is written first: on PostgreSQL its row lock then
// serializes this save with other saves and with DeleteCanvas, which
// would otherwise deadlock with a save that had written nodes (their
// foreign keys share-lock the canvas row) before updating the canvas.
func (s *sqlStore) SaveCheckpoint(ctx context.Context, d CheckpointDelta) error {
	if d.Seq < d.FromSeq {
		return fmt.Errorf("store: save checkpoint of canvas %s: seq %d is before from seq %d", d.CanvasID, d.Seq, d.FromSeq)
	}
	for _, c := range d.PutComments {
		if _, err := seqArg(c.Seq); err != nil {
			return s.fail(err, "save checkpoint of canvas %s: comment %s", d.CanvasID, c.ID)
		}
	}
	err := s.inTx(ctx, func(q querier) error {
		var err error
		if d.Meta != nil {
			err = execOne(ctx, q, updateMeta, d.Meta.Title, jsonText(d.Meta.Settings), d.At, d.CanvasID)
		} else {
			err = execOne(ctx, q, "UPDATE canvases SET updated_at = ? WHERE id = ?", d.At, d.CanvasID)
		}
		if err != nil {
			return err
		}
		if err := advanceSeq(ctx, q, d.CanvasID, d.FromSeq, d.Seq, d.At); err != nil {
			return err
		}
		if err := putNodes(ctx, q, d.CanvasID, lastOfEach(d.PutNodes, func(n Node) string { return n.ID })); err != nil {
			return err
		}
		if err := putEdges(ctx, q, d.CanvasID, lastOfEach(d.PutEdges, func(e Edge) string { return e.ID })); err != nil {
			return err
		}
		if err := putComments(ctx, q, d.CanvasID, lastOfEach(d.PutComments, func(c Comment) string { return c.ID })); err != nil {
			return err
		}
		if err := deleteIDs(ctx, q, nodeDeletes, d.CanvasID, d.DeleteNodes); err != nil {
			return err
		}
		if err := deleteIDs(ctx, q, commentDeletes, d.CanvasID, d.DeleteComments); err != nil {
			return err
		}
		return deleteIDs(ctx, q, edgeDeletes, d.CanvasID, d.DeleteEdges)
	})
	return s.fail(err, "save checkpoint of canvas %s (seq %d to %d)", d.CanvasID, d.FromSeq, d.Seq)
}

// advanceSeq moves the checkpoint seq of an existing canvas from one value
// to the next, or fails with ErrConflict when the stored seq (0 when there
// is no row) is not from.
func advanceSeq(ctx context.Context, q querier, canvasID string, from, to uint64, at time.Time) error {
	from64, err := seqArg(from)
	if err != nil {
		return err
	}
	to64, err := seqArg(to)
	if err != nil {
		return err
	}
	var n int64
	if from == 0 {
		n, err = q.exec(ctx, "INSERT INTO checkpoints (canvas_id, seq, updated_at) VALUES (?, ?, ?)"+
			" ON CONFLICT (canvas_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at"+
			" WHERE checkpoints.seq = 0", canvasID, to64, at)
	} else {
		n, err = q.exec(ctx, "UPDATE checkpoints SET seq = ?, updated_at = ? WHERE canvas_id = ? AND seq = ?",
			to64, at, canvasID, from64)
	}
	if err == nil && n == 0 {
		err = fmt.Errorf("stored seq is not %d: %w", from, ErrConflict)
	}
	return err
}

func putNodes(ctx context.Context, q querier, canvasID string, nodes []Node) error {
	return runBatches(ctx, q, nodeUpserts, len(nodes), func(start, size int) []any {
		args := make([]any, 0, size*12)
		for _, n := range nodes[start : start+size] {
			args = append(args, canvasID, n.ID, n.Kind, n.X, n.Y, n.W, n.H, n.Z, jsonText(n.Data),
				n.AuthorID, n.CreatedAt, n.UpdatedAt)
		}
		return args
	})
}

func putEdges(ctx context.Context, q querier, canvasID string, edges []Edge) error {
	return runBatches(ctx, q, edgeUpserts, len(edges), func(start, size int) []any {
		args := make([]any, 0, size*8)
		for _, e := range edges[start : start+size] {
			args = append(args, canvasID, e.ID, e.Source, e.Target, e.Kind, jsonText(e.Data), e.AuthorID, e.CreatedAt)
		}
		return args
	})
}

// deleteIDs deletes rows of a canvas by id with stmts (nodeDeletes or
// edgeDeletes); unknown ids are ignored.
func deleteIDs(ctx context.Context, q querier, stmts batchStmts, canvasID string, ids []string) error {
	return runBatches(ctx, q, stmts, len(ids), func(start, size int) []any {
		args := make([]any, 0, 1+size)
		args = append(args, canvasID)
		for _, id := range ids[start : start+size] {
			args = append(args, id)
		}
		return args
	})
}
