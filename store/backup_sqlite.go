package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
)

// BackupDBFile is the name of a backup's SQLite database file.
const BackupDBFile = "sker.db"

// Backup writes a consistent copy of the database to dir/sker.db with
// VACUUM INTO, which reads one snapshot (in WAL mode, beside the writer,
// which it does not hold up) and writes a compact database file that
// SQLite opens as it is. dir must exist; the file must not.
func (s *SQLite) Backup(ctx context.Context, dir string) (BackupInfo, []string, error) {
	dst, err := filepath.Abs(filepath.Join(dir, BackupDBFile))
	if err != nil {
		return BackupInfo{}, nil, fmt.Errorf("store: backup: %w", err)
	}
	// The read pool is query_only, which refuses VACUUM INTO: one
	// connection of its own, for this backup.
	db, err := openSQLiteDB(ctx, s.path, false)
	if err != nil {
		return BackupInfo{}, nil, err
	}
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", dst)
	err = errors.Join(err, db.Close())
	if err == nil {
		// It holds password hashes and tokens' hashes.
		err = os.Chmod(dst, 0o600)
	}
	if err == nil {
		err = syncFile(dst)
	}
	if err != nil {
		return BackupInfo{}, nil, fmt.Errorf("store: backup sqlite to %s: %w", dst, err)
	}
	info, err := SQLiteFileInfo(ctx, dst)
	if err != nil {
		return BackupInfo{}, nil, err
	}
	return info, []string{BackupDBFile}, nil
}

// SQLiteFileInfo reads the schema version and the canvases' checkpoint
// seqs of a SQLite database file, opened read-only.
func SQLiteFileInfo(ctx context.Context, path string) (BackupInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return BackupInfo{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return BackupInfo{}, fmt.Errorf("store: %w", err)
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	q := liteQuerier{db}
	info := BackupInfo{}
	if info.SchemaVersion, err = schemaVersion(ctx, q); err != nil {
		return BackupInfo{}, fmt.Errorf("store: %s: %w", path, err)
	}
	if info.Canvases, err = checkpointSeqs(ctx, q); err != nil {
		return BackupInfo{}, fmt.Errorf("store: %s: canvases: %w", path, err)
	}
	return info, nil
}

// RestoreSQLiteFile copies the backup database file src to dst, which
// must not exist, and applies the migrations this binary has that the
// backup lacks. The copy is written and migrated beside dst, and renamed
// into place only once migrated and synced, so dst is either absent or
// whole and migrated: a migration that fails leaves nothing at dst.
func RestoreSQLiteFile(ctx context.Context, src, dst string) (BackupInfo, error) {
	if _, err := os.Lstat(dst); err == nil {
		return BackupInfo{}, fmt.Errorf("store: restore: %s exists: %w", dst, ErrNotEmpty)
	}
	tmp := dst + ".restoring"
	if err := prepareRestoreCopy(ctx, src, tmp); err != nil {
		removeSQLiteFiles(tmp)
		return BackupInfo{}, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		removeSQLiteFiles(tmp)
		return BackupInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return BackupInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	return SQLiteFileInfo(ctx, dst)
}

// prepareRestoreCopy copies src to tmp, migrates tmp and syncs it. The
// migration closes its database, which folds the WAL back into the file;
// a WAL left beside it would be lost by the rename, so it is refused.
func prepareRestoreCopy(ctx context.Context, src, tmp string) error {
	if err := copyFile(src, tmp); err != nil {
		return fmt.Errorf("store: restore %s: %w", src, err)
	}
	if _, err := MigrateSQLite(ctx, tmp); err != nil {
		return fmt.Errorf("store: restore %s: %w", src, err)
	}
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("store: restore %s: the migrated copy still has a write-ahead log", src)
	}
	_ = os.Remove(tmp + "-wal")
	_ = os.Remove(tmp + "-shm")
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("store: restore %s: %w", src, err)
	}
	return nil
}

// removeSQLiteFiles removes a database file and its WAL and shared-memory
// files, best effort.
func removeSQLiteFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

// copyFile copies src to a new file dst (0600) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(err, out.Close())
	}
	return errors.Join(out.Sync(), out.Close())
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
