package store

import (
	"context"
	"slices"
	"time"
)

// FileCanvases lists the canvases that hold at least one file, by id: the
// canvases the file sweep looks at.
func (s *sqlStore) FileCanvases(ctx context.Context) ([]string, error) {
	out := []string{}
	err := queryAll(ctx, s.read, "SELECT DISTINCT canvas_id FROM files ORDER BY canvas_id", nil, func(r rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "canvases with files")
	}
	return out, nil
}

// SweepCanvasFiles brings the files of canvasID up to date with what
// refers to them, in one transaction: a file in referenced has its
// UnreferencedAt cleared; any other gets now as its UnreferencedAt unless
// it has one already; and a file whose UnreferencedAt is at or before
// cutoff (and is not in referenced) is deleted. It returns the files it
// deleted. The content of a deleted file stays: other canvases may hold
// it (FileHeld).
func (s *sqlStore) SweepCanvasFiles(ctx context.Context, canvasID string, referenced []string, now, cutoff time.Time) ([]File, error) {
	deleted := []File{}
	err := s.inTx(ctx, func(q querier) error {
		deleted = deleted[:0]
		var fs []File
		err := queryAll(ctx, q, "SELECT "+fileCols+" FROM files WHERE canvas_id = ? ORDER BY id"+s.forUpdate,
			[]any{canvasID}, func(r rows) error {
				var f File
				if err := scanFile(r, &f); err != nil {
					return err
				}
				fs = append(fs, f)
				return nil
			})
		if err != nil {
			return err
		}
		for _, f := range fs {
			var err error
			switch {
			case slices.Contains(referenced, f.ID):
				if f.UnreferencedAt != nil {
					_, err = q.exec(ctx, "UPDATE files SET unreferenced_at = NULL WHERE canvas_id = ? AND id = ?", canvasID, f.ID)
				}
			case f.UnreferencedAt == nil:
				_, err = q.exec(ctx, "UPDATE files SET unreferenced_at = ? WHERE canvas_id = ? AND id = ?", now.UTC(), canvasID, f.ID)
			case !f.UnreferencedAt.After(cutoff):
				_, err = q.exec(ctx, "DELETE FROM files WHERE canvas_id = ? AND id = ?", canvasID, f.ID)
				deleted = append(deleted, f)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "sweep files of canvas %s", canvasID)
	}
	return deleted, nil
}

// FileHeld reports whether any canvas holds the content id.
func (s *sqlStore) FileHeld(ctx context.Context, id string) (bool, error) {
	var n int64
	err := queryAll(ctx, s.read, "SELECT COUNT(*) FROM files WHERE id = ?", []any{id}, func(r rows) error { return r.Scan(&n) })
	if err != nil {
		return false, s.fail(err, "canvases holding file %s", id)
	}
	return n > 0, nil
}

// VersionStates calls fn with the state of every kept version of canvasID
// (table canvas_versions), in no set order: the file sweep counts the
// files they refer to as referenced, since restoring a version brings its
// cards back.
func (s *sqlStore) VersionStates(ctx context.Context, canvasID string, fn func(state []byte) error) error {
	err := queryAll(ctx, s.read, "SELECT state FROM canvas_versions WHERE canvas_id = ?", []any{canvasID}, func(r rows) error {
		var state []byte
		if err := r.Scan(&state); err != nil {
			return err
		}
		return fn(state)
	})
	return s.fail(err, "version states of canvas %s", canvasID)
}
