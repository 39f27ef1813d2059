package store

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// BackupDumpFile is the name of a backup's dump (see Dump), gzipped.
const BackupDumpFile = "store.jsonl.gz"

// Backup writes every row of the database to dir/store.jsonl.gz, read in
// one REPEATABLE READ transaction, so that the copy is one consistent
// snapshot while writers go on. It needs no pg_dump: the dump loads into
// any PostgreSQL this binary supports, whatever its version, and into
// SQLite. dir must exist; the file must not.
func (s *Postgres) Backup(ctx context.Context, dir string) (BackupInfo, []string, error) {
	info, err := WriteDump(ctx, s, filepath.Join(dir, BackupDumpFile))
	if err != nil {
		return BackupInfo{}, nil, err
	}
	return info, []string{BackupDumpFile}, nil
}

// Dumper is a store that dumps its rows: either backend.
type Dumper interface {
	Dump(ctx context.Context, w io.Writer) (BackupInfo, error)
}

// Loader is a store that loads a dump: either backend.
type Loader interface {
	Load(ctx context.Context, r io.Reader) (BackupInfo, error)
}

// WriteDump writes st's dump, gzipped, to a new file at path (0600) and
// syncs it. On error the file is removed.
func WriteDump(ctx context.Context, st Dumper, path string) (_ BackupInfo, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: dump: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	zw := gzip.NewWriter(f)
	info, err := st.Dump(ctx, zw)
	if err != nil {
		return BackupInfo{}, err
	}
	if err := errors.Join(zw.Close(), f.Sync(), f.Close()); err != nil {
		return BackupInfo{}, fmt.Errorf("store: dump to %s: %w", path, err)
	}
	return info, nil
}

// ReadDump loads the gzipped dump at path into st.
func ReadDump(ctx context.Context, st Loader, path string) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: read dump: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: read dump %s: %w", path, err)
	}
	// Load reads to the end, which checks the gzip checksum, before it
	// commits.
	return st.Load(ctx, zr)
}

// CheckPostgresEmpty fails with ErrNotEmpty, naming the tables with rows,
// unless the database at url holds no row in any table a dump holds. A
// database that has never been migrated, or only migrated, is empty.
func CheckPostgresEmpty(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("store: connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var full []string
	for _, t := range tables {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t.name).Scan(&exists); err != nil {
			return fmt.Errorf("store: check postgres: %w", err)
		}
		if !exists {
			continue
		}
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t.name).Scan(&n); err != nil {
			return fmt.Errorf("store: check postgres: %w", err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s (%d rows)", t.name, n))
		}
	}
	if full != nil {
		return fmt.Errorf("%w: %s", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}
