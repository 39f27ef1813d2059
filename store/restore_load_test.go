package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestRestoreSQLiteFileFailedMigration: a backup file whose migration
// fails leaves nothing at the destination (nor beside it), so that the
// data folder is never left with a half-restored store.
func TestRestoreSQLiteFileFailedMigration(t *testing.T) {
	ctx := t.Context()
	src := testkit.SQLitePath(t)
	if _, err := store.MigrateSQLite(ctx, src); err != nil {
		t.Fatal(err)
	}
	// Forget that the last migration ran: applied again, its ALTER TABLE
	// fails on the column it already added.
	db, err := sql.Open("sqlite", src)
	must(t, "open", err)
	_, err = db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)")
	must(t, "forget the last migration", errors.Join(err, db.Close()))

	dst := filepath.Join(t.TempDir(), "sker.db")
	if _, err := store.RestoreSQLiteFile(ctx, src, dst); err == nil {
		t.Fatal("RestoreSQLiteFile: want the migration's error, got nil")
	}
	for _, p := range []string{dst, dst + "-wal", dst + ".restoring", dst + ".restoring-wal"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is there after a failed restore (%v)", filepath.Base(p), err)
		}
	}

	// A sound file restores, migrated, at the destination.
	good := testkit.SQLitePath(t)
	s, err := store.OpenSQLite(ctx, good)
	must(t, "OpenSQLite", err)
	u := mkUser(t, s, "owner")
	c := mkCanvas(t, s, u.ID, 0)
	closeStore(t, s)
	info, err := store.RestoreSQLiteFile(ctx, good, dst)
	must(t, "RestoreSQLiteFile", err)
	if _, ok := info.Canvases[c.ID]; !ok || len(info.Canvases) != 1 {
		t.Fatalf("restored canvases %v, want only %s", info.Canvases, c.ID)
	}
}

// TestLoadCheckedRollsBack: a check that fails after the load leaves the
// store without a row, on both kinds; one that passes commits.
func TestLoadCheckedRollsBack(t *testing.T) {
	for name, open := range map[string]func(*testing.T) backend{
		"sqlite":   func(t *testing.T) backend { return openSQLite(t) },
		"postgres": func(t *testing.T) backend { return openPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			src := open(t)
			id := fill(t, src)
			dir := t.TempDir()
			dumpPath := filepath.Join(dir, store.BackupDumpFile)
			_, err := store.WriteDump(ctx, src, dumpPath)
			must(t, "WriteDump", err)

			dst := open(t)
			cl, ok := dst.(store.CheckedLoader)
			if !ok {
				t.Fatalf("%T is not a CheckedLoader", dst)
			}
			wrong := errors.New("the manifest says otherwise")
			var seen store.BackupInfo
			_, err = store.ReadDumpChecked(ctx, cl, dumpPath, func(info store.BackupInfo) error {
				seen = info
				return wrong
			})
			if !errors.Is(err, wrong) {
				t.Fatalf("ReadDumpChecked: %v, want the check's error", err)
			}
			if _, ok := seen.Canvases[id]; !ok {
				t.Fatalf("the check saw canvases %v, want %s among them", seen.Canvases, id)
			}
			counts, err := dst.RowCounts(ctx)
			must(t, "RowCounts", err)
			for table, n := range counts {
				if n != 0 {
					t.Errorf("after a failed check %s holds %d rows", table, n)
				}
			}
			_, err = store.ReadDumpChecked(ctx, cl, dumpPath, func(store.BackupInfo) error { return nil })
			must(t, "ReadDumpChecked again", err)
			seqs, err := dst.CheckpointSeqs(ctx)
			must(t, "CheckpointSeqs", err)
			if _, ok := seqs[id]; !ok {
				t.Fatalf("after the load, canvases %v lack %s", seqs, id)
			}
		})
	}
}
