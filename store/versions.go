package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Version kinds.
const (
	VersionAuto  = "auto"  // taken from a checkpoint
	VersionNamed = "named" // named by a member
	VersionAI    = "ai"    // just before an AI run wrote its answer
)

// Version is a point of a canvas's history whose whole state is kept
// (package versions), so that it outlives the journal's trimming.
type Version struct {
	CanvasID  string
	Seq       uint64
	Kind      string // VersionAuto, VersionNamed or VersionAI
	Name      string
	CreatedBy string
	CreatedAt time.Time
	// Authors are the users who committed batches since the previous
	// point; nil is stored as [].
	Authors []string
	// State is the canvas's canonical export at Seq (canvas.Export as
	// JSON). ListVersions leaves it nil.
	State []byte
}

const versionCols = "canvas_id, seq, kind, name, created_by, created_at, authors"

// SaveVersion stores v; a version of the same kind at the same seq is
// ErrConflict, an unknown canvas ErrNotFound.
func (s *sqlStore) SaveVersion(ctx context.Context, v Version) error {
	seq, err := seqArg(v.Seq)
	if err != nil {
		return s.fail(err, "save version %d of canvas %s", v.Seq, v.CanvasID)
	}
	authors := v.Authors
	if authors == nil {
		authors = []string{}
	}
	a, _ := json.Marshal(authors)
	_, err = s.write.exec(ctx, "INSERT INTO canvas_versions ("+versionCols+", state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		v.CanvasID, seq, v.Kind, v.Name, v.CreatedBy, v.CreatedAt.UTC(), string(a), v.State)
	return s.fail(err, "save version %d of canvas %s", v.Seq, v.CanvasID)
}

// ListVersions lists a canvas's versions by seq (then kind), without their
// states.
func (s *sqlStore) ListVersions(ctx context.Context, canvasID string) ([]Version, error) {
	out := []Version{}
	err := queryAll(ctx, s.read, "SELECT "+versionCols+" FROM canvas_versions WHERE canvas_id = ? ORDER BY seq, kind",
		[]any{canvasID}, func(r rows) error {
			v, err := scanVersion(r, false)
			out = append(out, v)
			return err
		})
	if err != nil {
		return nil, s.fail(err, "list versions of canvas %s", canvasID)
	}
	return out, nil
}

// VersionAtOrBefore returns the stored version with the highest seq at or
// before seq, with its state; ErrNotFound when there is none.
func (s *sqlStore) VersionAtOrBefore(ctx context.Context, canvasID string, seq uint64) (Version, error) {
	seq64, err := seqArg(seq)
	if err != nil {
		return Version{}, s.fail(err, "version of canvas %s at %d", canvasID, seq)
	}
	var v Version
	err = queryOne(ctx, s.read, "SELECT "+versionCols+", state FROM canvas_versions WHERE canvas_id = ? AND seq <= ?"+
		" ORDER BY seq DESC, kind LIMIT 1", []any{canvasID, seq64}, scanInto(&v)...)
	if err != nil {
		return Version{}, s.fail(err, "version of canvas %s at or before %d", canvasID, seq)
	}
	return v, nil
}

// DeleteVersions deletes a canvas's versions of one kind at the given
// seqs, in one transaction, and returns how many went.
func (s *sqlStore) DeleteVersions(ctx context.Context, canvasID string, seqs []uint64, kind string) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(q querier) error {
		for _, seq := range seqs {
			seq64, err := seqArg(seq)
			if err != nil {
				return err
			}
			m, err := q.exec(ctx, "DELETE FROM canvas_versions WHERE canvas_id = ? AND seq = ? AND kind = ?", canvasID, seq64, kind)
			if err != nil {
				return err
			}
			n += m
		}
		return nil
	})
	return n, s.fail(err, "delete versions of canvas %s", canvasID)
}

// VersionCanvases lists the canvases with versions created before cutoff,
// for the retention sweep.
func (s *sqlStore) VersionCanvases(ctx context.Context, cutoff time.Time) ([]string, error) {
	out := []string{}
	err := queryAll(ctx, s.read, "SELECT DISTINCT canvas_id FROM canvas_versions WHERE created_at < ? ORDER BY canvas_id",
		[]any{cutoff.UTC()}, func(r rows) error {
			var id string
			err := r.Scan(&id)
			out = append(out, id)
			return err
		})
	if err != nil {
		return nil, s.fail(err, "list canvases with versions")
	}
	return out, nil
}

func scanInto(v *Version) []any {
	return []any{&v.CanvasID, (*seqCol)(&v.Seq), &v.Kind, &v.Name, &v.CreatedBy, timeCol{&v.CreatedAt}, (*authorsCol)(&v.Authors), &v.State}
}

func scanVersion(r rows, withState bool) (Version, error) {
	var v Version
	dest := scanInto(&v)
	if !withState {
		dest = dest[:len(dest)-1]
	}
	err := r.Scan(dest...)
	return v, err
}

func errScan(col string, src any) error {
	return fmt.Errorf("store: scan %T into %s", src, col)
}

// seqCol scans a BIGINT seq into a uint64.
type seqCol uint64

// Scan implements sql.Scanner.
func (c *seqCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok || v < 0 {
		return errScan("seq", src)
	}
	*c = seqCol(v)
	return nil
}

// authorsCol scans a JSON array of user ids.
type authorsCol []string

// Scan implements sql.Scanner.
func (c *authorsCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return errScan("authors", src)
	}
	out := []string{}
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*c = out
	return nil
}
