package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/skerhq/sker/files"
)

// Uploads in a backup: the bytes of the uploaded files, each under its id
// in the backup's folder uploadsDir, listed in Manifest.Uploads. A restore
// copies them to DATA_DIR/restoredDir, and the restored node puts them
// into its file store (FILE_STORE, fs or nats) when it starts, before it
// serves anything.
const (
	uploadsDir  = "uploads"
	restoredDir = "restored-uploads"
)

// backupUploads copies every content of the node's file store into
// dir/uploadsDir and lists them. It runs after the store's copy: content
// is put before the row that holds it is recorded, and removed only once
// two sweeps found no row holding it, so every row of the copy finds its
// content here.
func (a *App) backupUploads(ctx context.Context, dir string) (map[string]FileInfo, error) {
	out := map[string]FileInfo{}
	if a.files == nil {
		return out, nil
	}
	if err := os.Mkdir(filepath.Join(dir, uploadsDir), 0o700); err != nil {
		return nil, fmt.Errorf("app: backup: uploads: %w", err)
	}
	err := a.files.List(ctx, func(id string) error {
		err := copyUpload(ctx, a.files, id, filepath.Join(dir, uploadsDir, id))
		if errors.Is(err, files.ErrNotFound) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		info, err := fileInfo(filepath.Join(dir, uploadsDir, id))
		if err != nil {
			return err
		}
		if info.SHA256 != id {
			return fmt.Errorf("file %s: the content read has SHA-256 %s", id, info.SHA256)
		}
		out[id] = info
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app: backup: uploads: %w", err)
	}
	return out, nil
}

func copyUpload(ctx context.Context, st files.Store, id, dst string) error {
	r, _, err := st.Open(ctx, id)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkUploads checks the uploads a manifest lists: valid ids, each file
// there with its size and a SHA-256 that is its id.
func checkUploads(dir string, m Manifest) error {
	for id, want := range m.Uploads {
		if !files.ValidID(id) || want.SHA256 != id {
			return fmt.Errorf("%s: bad upload %q", ManifestFile, id)
		}
		got, err := fileInfo(filepath.Join(dir, uploadsDir, id))
		if err != nil {
			return fmt.Errorf("backup upload %s: %w", id, err)
		}
		if got != want {
			return fmt.Errorf("backup upload %s: %d bytes with SHA-256 %s; the manifest says %d bytes: the backup is damaged",
				id, got.Size, got.SHA256, want.Size)
		}
	}
	return nil
}

// restoreUploads copies the backup's uploads to DATA_DIR/restoredDir, for
// the node to put into its file store when it starts (importRestored).
func restoreUploads(from, dataDir string, m Manifest) error {
	if len(m.Uploads) == 0 {
		return nil
	}
	dst := filepath.Join(dataDir, restoredDir)
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return fmt.Errorf("uploads: %w", err)
	}
	for id := range m.Uploads {
		copied, err := copyIfExists(filepath.Join(from, uploadsDir, id), filepath.Join(dst, id))
		if err == nil && !copied {
			err = errors.New("not in the backup")
		}
		if err != nil {
			return fmt.Errorf("upload %s: %w", id, err)
		}
	}
	return syncPath(dst)
}

// importRestored puts the uploads a restore left in DATA_DIR/restoredDir
// into the file store, then removes the folder. Each must hash to its
// name; one that does not is left there and the start fails, naming it.
func (a *App) importRestored(ctx context.Context, st files.Store) error {
	dir := filepath.Join(a.cfg.DataDir, restoredDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: restored uploads: %w", err)
	}
	for _, e := range entries {
		if err := importOne(ctx, st, filepath.Join(dir, e.Name()), e.Name()); err != nil {
			return fmt.Errorf("app: restored upload %s: %w", e.Name(), err)
		}
	}
	a.log.Info("restored uploads put into the file store", "files", len(entries), "file_store", a.cfg.FileStore)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("app: restored uploads: %w", err)
	}
	return nil
}

func importOne(ctx context.Context, st files.Store, path, id string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := st.Put(ctx, f, max(fi.Size(), 1))
	if err != nil {
		return err
	}
	if info.ID != id {
		return fmt.Errorf("its content has SHA-256 %s", info.ID)
	}
	return nil
}
