package store

import (
	"context"
	"time"
)

// File is a file a canvas holds: its content (kept by package files under
// ID, the hex SHA-256, once however many canvases hold it) and what is
// known of it. The same content on two canvases is two Files.
type File struct {
	CanvasID string
	ID       string
	Size     int64
	Type     string // media type sniffed from the content
	Width    int    // pixels, for a raster image; else 0
	Height   int
	// Name is the uploader's original file name, kept as metadata only.
	Name      string
	CreatedBy string
	CreatedAt time.Time
	// UnreferencedAt is when the file sweep first found no card and
	// nothing the canvas's journal keeps referring to it; nil while
	// something does (store/files_sweep.go).
	UnreferencedAt *time.Time
}

// AddFile records that f.CanvasID holds f. When the canvas holds that
// content already, the File recorded first is returned unchanged but for
// its UnreferencedAt, which is cleared (an upload of the same bytes again
// adds nothing, and restarts the grace period of a file waiting to be
// deleted); otherwise f as stored (f.UnreferencedAt is not stored).
// ErrNotFound when there is no such canvas.
func (s *sqlStore) AddFile(ctx context.Context, f File) (File, error) {
	_, err := s.write.exec(ctx, "INSERT INTO files (canvas_id, id, size, type, width, height, name, created_by, created_at)"+
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (canvas_id, id) DO UPDATE SET unreferenced_at = NULL",
		f.CanvasID, f.ID, f.Size, f.Type, f.Width, f.Height, f.Name, f.CreatedBy, f.CreatedAt.UTC())
	if err != nil {
		return File{}, s.fail(err, "add file %s to canvas %s", f.ID, f.CanvasID)
	}
	return s.CanvasFile(ctx, f.CanvasID, f.ID)
}

const fileCols = "canvas_id, id, size, type, width, height, name, created_by, created_at, unreferenced_at"

func scanFile(r interface{ Scan(...any) error }, f *File) error {
	return r.Scan(&f.CanvasID, &f.ID, &f.Size, &f.Type, &f.Width, &f.Height, &f.Name, &f.CreatedBy, timeCol{&f.CreatedAt}, nullTimeCol{&f.UnreferencedAt})
}

// CanvasFile returns the file id of a canvas; ErrNotFound when the canvas
// does not hold it.
func (s *sqlStore) CanvasFile(ctx context.Context, canvasID, id string) (File, error) {
	var f File
	r, err := s.read.query(ctx, "SELECT "+fileCols+" FROM files WHERE canvas_id = ? AND id = ?", canvasID, id)
	if err != nil {
		return File{}, s.fail(err, "file %s of canvas %s", id, canvasID)
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return File{}, s.fail(err, "file %s of canvas %s", id, canvasID)
		}
		return File{}, s.fail(ErrNotFound, "file %s of canvas %s", id, canvasID)
	}
	if err := scanFile(r, &f); err != nil {
		return File{}, s.fail(err, "file %s of canvas %s", id, canvasID)
	}
	return f, s.fail(r.Err(), "file %s of canvas %s", id, canvasID)
}

// CanvasFiles lists the files of a canvas, newest first (then by id); an
// unknown canvas has none.
func (s *sqlStore) CanvasFiles(ctx context.Context, canvasID string) ([]File, error) {
	out := []File{}
	err := queryAll(ctx, s.lagRead, "SELECT "+fileCols+" FROM files WHERE canvas_id = ? ORDER BY created_at DESC, id",
		[]any{canvasID}, func(r rows) error {
			var f File
			if err := scanFile(r, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	if err != nil {
		return nil, s.fail(err, "files of canvas %s", canvasID)
	}
	return out, nil
}

// FileUsage sums the sizes of canvasID's files, and of the files userID
// uploaded to any canvas (a file held by two canvases counts twice: each
// canvas holds it).
func (s *sqlStore) FileUsage(ctx context.Context, canvasID, userID string) (canvasBytes, userBytes int64, err error) {
	sum := func(where string, arg string) (int64, error) {
		var n int64
		err := queryAll(ctx, s.read, "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE "+where+" = ?", []any{arg}, func(r rows) error {
			return r.Scan(&n)
		})
		return n, err
	}
	if canvasBytes, err = sum("canvas_id", canvasID); err != nil {
		return 0, 0, s.fail(err, "file usage of canvas %s", canvasID)
	}
	if userBytes, err = sum("created_by", userID); err != nil {
		return 0, 0, s.fail(err, "file usage of user %s", userID)
	}
	return canvasBytes, userBytes, nil
}
