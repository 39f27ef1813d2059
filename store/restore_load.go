package store

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
)

// CheckedLoader loads a dump and checks what it loaded before it commits.
type CheckedLoader interface {
	LoadChecked(ctx context.Context, r io.Reader, check func(BackupInfo) error) (BackupInfo, error)
}

// LoadChecked loads a dump as Load does and then, in the same
// transaction, calls check with what was loaded (Canvases: every canvas
// with its checkpoint seq as the store now holds it). An error from check
// rolls the whole load back, so a restore that finds the loaded store
// wrong leaves the target as empty as it found it: a second attempt is
// not refused as "not empty".
func (s *sqlStore) LoadChecked(ctx context.Context, r io.Reader, check func(BackupInfo) error) (BackupInfo, error) {
	var info BackupInfo
	err := s.inTx(ctx, func(q querier) error {
		var err error
		if info, err = load(ctx, q, r); err != nil {
			return err
		}
		if info.Canvases, err = checkpointSeqs(ctx, q); err != nil {
			return err
		}
		return check(info)
	})
	if err != nil {
		return BackupInfo{}, s.fail(err, "load dump")
	}
	return info, nil
}

// ReadDumpChecked loads the gzipped dump at path into st, with check run
// before the commit (see LoadChecked).
func ReadDumpChecked(ctx context.Context, st CheckedLoader, path string, check func(BackupInfo) error) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: read dump: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("store: read dump %s: %w", path, err)
	}
	return st.LoadChecked(ctx, zr, check)
}
