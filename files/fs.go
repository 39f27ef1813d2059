package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FS is a Store in a folder of the local disk: content id lives at
// ab/cd/<id> (its first two pairs of hex digits as folders, so that no
// folder grows huge), and uploads are spooled in .tmp, on the same file
// system, so that a finished upload is renamed into place in one step.
type FS struct {
	root string
	tmp  string
}

// staleSpool is how old a leftover in .tmp must be before NewFS removes
// it: an upload cut off by a crash. Younger ones may be another node's
// upload in progress on a shared folder.
const staleSpool = time.Hour

// NewFS opens (creating it if needed) a file store in root.
func NewFS(root string) (*FS, error) {
	s := &FS{root: root, tmp: filepath.Join(root, ".tmp")}
	if err := os.MkdirAll(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("files: folder %s: %w", root, err)
	}
	s.removeStale()
	return s, nil
}

// removeStale removes spooled uploads left by a crash.
func (s *FS) removeStale() {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleSpool {
			os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

func (s *FS) path(id string) string { return filepath.Join(s.root, id[0:2], id[2:4], id) }

// Put implements Store.
func (s *FS) Put(ctx context.Context, r io.Reader, maxSize int64) (FileInfo, error) {
	f, info, err := spool(ctx, s.tmp, r, maxSize)
	if err != nil {
		return FileInfo{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: write: %w", info.ID, err)
	}
	dst := s.path(info.ID)
	if _, err := os.Stat(dst); err == nil {
		return info, nil // stored already
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: %w", info.ID, err)
	}
	if err := os.Chmod(tmp, 0o640); err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: %w", info.ID, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: %w", info.ID, err)
	}
	syncDir(filepath.Dir(dst))
	return info, nil
}

// syncDir makes a rename in dir durable; failing that only weakens
// durability after a power cut, so it is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open implements Store.
func (s *FS) Open(_ context.Context, id string) (io.ReadSeekCloser, FileInfo, error) {
	if !ValidID(id) {
		return nil, FileInfo{}, ErrNotFound
	}
	f, err := os.Open(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, FileInfo{}, ErrNotFound
	}
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("files: open %s: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileInfo{}, fmt.Errorf("files: open %s: %w", id, err)
	}
	info := FileInfo{ID: id, Size: st.Size()}
	info.Type, info.Width, info.Height = Sniff(f, info.Size)
	return f, info, nil
}

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, id string) (FileInfo, error) {
	f, info, err := s.Open(ctx, id)
	if err != nil {
		return FileInfo{}, err
	}
	f.Close()
	return info, nil
}

// Delete implements Store.
func (s *FS) Delete(_ context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	err := os.Remove(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("files: delete %s: %w", id, err)
	}
	return nil
}

// List implements Store: it walks the two levels of folders, skipping
// anything whose name is not a valid id (the spool among them).
func (s *FS) List(ctx context.Context, fn func(id string) error) error {
	err := filepath.WalkDir(s.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, path)
		depth := strings.Count(rel, string(filepath.Separator)) + 1 // ab=1, ab/cd=2, ab/cd/<id>=3
		switch {
		case d.IsDir() && path == s.root:
			return nil
		case d.IsDir() && (depth > 2 || len(d.Name()) != 2):
			return filepath.SkipDir
		case d.IsDir():
			return nil
		case depth == 3 && d.Type().IsRegular() && ValidID(d.Name()) && s.path(d.Name()) == path:
			return fn(d.Name())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("files: list: %w", err)
	}
	return nil
}
