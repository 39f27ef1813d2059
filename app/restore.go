package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/dirlock"
	"github.com/skerhq/sker/migrations"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// ErrRestoreTarget: the data folder, the database or the journal a
// restore would write to is not empty.
var ErrRestoreTarget = errors.New("app: restore target is not empty")

// Restore puts the backup in the folder from onto the configured node,
// which must be new: an empty (or absent) DATA_DIR, and with DATABASE_URL
// a database without rows (one that only `sker migrate` has run on is
// fine), and with NATS_URL a journal without records of the backup's
// canvases. Anything else is refused before a byte is written.
//
// The store is restored from either kind of backup: a SQLite backup onto
// SQLite is the database file, any other pair goes through a dump loaded
// in one transaction. The journal starts empty: each canvas loads from its
// checkpoint and its seq continues from there. What the backup's
// manifest lists is checked: every file's SHA-256 before, every canvas's
// checkpoint seq after.
func Restore(ctx context.Context, cfg config.Config, from string) (Manifest, error) {
	m, err := ReadManifest(from)
	if err != nil {
		return Manifest{}, fmt.Errorf("app: restore: %w", err)
	}
	if err := checkSchema(m, cfg); err != nil {
		return Manifest{}, err
	}
	if err := checkDataDirEmpty(cfg.DataDir); err != nil {
		return Manifest{}, err
	}
	if cfg.DatabaseURL != "" {
		if err := store.CheckPostgresEmpty(ctx, cfg.DatabaseURL); err != nil {
			if errors.Is(err, store.ErrNotEmpty) {
				return Manifest{}, fmt.Errorf("%w: the database at DATABASE_URL holds %v: restore needs an empty database"+
					" (a new one, or one that only `sker migrate` has run on)", ErrRestoreTarget, strings.TrimPrefix(err.Error(), store.ErrNotEmpty.Error()+": "))
			}
			return Manifest{}, err
		}
	}
	if err := checkJournalEmpty(ctx, cfg, m.Canvases); err != nil {
		return Manifest{}, err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return Manifest{}, fmt.Errorf("app: restore: DATA_DIR %s: %w", cfg.DataDir, err)
	}
	lock, err := dirlock.Acquire(cfg.DataDir, "sker restore")
	if err != nil {
		return Manifest{}, fmt.Errorf("app: restore: DATA_DIR: %w", err)
	}
	err = errors.Join(restoreInto(ctx, cfg, from, m), lock.Release())
	if err != nil {
		// The folder was empty: leave it so, for the next attempt.
		clearDir(cfg.DataDir)
		return Manifest{}, err
	}
	return m, nil
}

func restoreInto(ctx context.Context, cfg config.Config, from string, m Manifest) error {
	// The secret first: on failure DATA_DIR is emptied anyway, while a
	// PostgreSQL store, once committed, is not taken back.
	if _, ok := m.Files[auth.SecretFile]; ok && cfg.JWTSecret == "" {
		if _, err := copyIfExists(filepath.Join(from, auth.SecretFile), filepath.Join(cfg.DataDir, auth.SecretFile)); err != nil {
			return fmt.Errorf("app: restore: %w", err)
		}
	}
	// The uploads too, for the node to put into its file store at start.
	if err := restoreUploads(from, cfg.DataDir, m); err != nil {
		return fmt.Errorf("app: restore: %w", err)
	}
	var err error
	if cfg.DatabaseURL == "" {
		var got store.BackupInfo
		got, err = restoreSQLite(ctx, SQLitePath(cfg), from, m)
		if err == nil {
			err = sameCanvases(got.Canvases, m.Canvases)
		}
	} else {
		err = restorePostgres(ctx, cfg.DatabaseURL, from, m)
	}
	if err != nil {
		return fmt.Errorf("app: restore: %w", err)
	}
	return nil
}

// checkSchema refuses a backup of a schema newer than this binary knows.
func checkSchema(m Manifest, cfg config.Config) error {
	fsys := migrations.SQLite()
	if cfg.DatabaseURL != "" {
		fsys = migrations.Postgres()
	}
	latest, err := migrations.Latest(fsys)
	if err != nil {
		return err
	}
	if m.SchemaVersion > latest {
		return fmt.Errorf("app: restore: the backup has schema version %d (made by sker %s); this sker knows up to %d: restore with a sker at least as new",
			m.SchemaVersion, m.Version, latest)
	}
	return nil
}

// checkDataDirEmpty refuses a DATA_DIR with anything in it (but a
// filesystem's lost+found).
func checkDataDirEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: restore: DATA_DIR %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "lost+found" {
			names = append(names, e.Name())
		}
	}
	if names != nil {
		return fmt.Errorf("%w: DATA_DIR %s holds %s: restore needs an empty data folder (give another DATA_DIR, or empty this one)",
			ErrRestoreTarget, dir, strings.Join(names, ", "))
	}
	return nil
}

// checkJournalEmpty refuses an external NATS whose journal holds records
// of the backup's canvases: their replay would not match the restored
// checkpoints. (The embedded server's journal is in DATA_DIR, empty.)
func checkJournalEmpty(ctx context.Context, cfg config.Config, canvases map[string]uint64) error {
	if cfg.NatsURL == "" {
		return nil
	}
	names, err := natsname.New(cfg.NatsPrefix)
	if err != nil {
		return fmt.Errorf("app: restore: NATS_PREFIX: %w", err)
	}
	nc, err := nats.Connect(cfg.NatsURL, nats.Name("sker restore"))
	if err != nil {
		return fmt.Errorf("app: restore: connect to NATS_URL: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("app: restore: jetstream: %w", err)
	}
	stream, err := js.Stream(ctx, names.JournalStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: restore: journal stream %s: %w", names.JournalStream(), err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(names.JournalSubjects()))
	if err != nil {
		return fmt.Errorf("app: restore: journal stream %s: %w", names.JournalStream(), err)
	}
	var held []string
	for subject := range info.State.Subjects {
		if _, ok := canvases[strings.TrimPrefix(subject, names.Journal(""))]; ok {
			id := strings.TrimPrefix(subject, names.Journal(""))
			held = append(held, id)
		}
	}
	if held != nil {
		sort.Strings(held)
		return fmt.Errorf("%w: the journal %s at NATS_URL holds records of %d of the backup's canvases (%s): restore needs a journal without them"+
			" (another NATS_PREFIX, or a NATS system of its own)", ErrRestoreTarget, names.JournalStream(), len(held), strings.Join(held[:min(len(held), 3)], ", "))
	}
	return nil
}

func restoreSQLite(ctx context.Context, path, from string, m Manifest) (store.BackupInfo, error) {
	switch m.Store {
	case "sqlite":
		return store.RestoreSQLiteFile(ctx, filepath.Join(from, store.BackupDBFile), path)
	case "postgres":
		st, err := store.OpenSQLite(ctx, path)
		if err != nil {
			return store.BackupInfo{}, err
		}
		info, err := store.ReadDump(ctx, st, filepath.Join(from, store.BackupDumpFile))
		if err == nil {
			info.Canvases, err = st.CheckpointSeqs(ctx)
		}
		return info, errors.Join(err, st.Close())
	}
	return store.BackupInfo{}, fmt.Errorf("unknown store %q in the manifest", m.Store)
}

// restorePostgres loads the backup into the database in one transaction
// that also checks every canvas against the manifest: a restore that
// fails leaves the database without a row, ready for another attempt.
func restorePostgres(ctx context.Context, url, from string, m Manifest) error {
	if _, err := store.MigratePostgres(ctx, url); err != nil {
		return err
	}
	pg, err := store.OpenPostgres(ctx, url, "")
	if err != nil {
		return err
	}
	defer pg.Close()
	check := func(got store.BackupInfo) error { return sameCanvases(got.Canvases, m.Canvases) }
	switch m.Store {
	case "postgres":
		_, err = store.ReadDumpChecked(ctx, pg, filepath.Join(from, store.BackupDumpFile), check)
		return err
	case "sqlite":
		return loadSQLiteBackup(ctx, pg, filepath.Join(from, store.BackupDBFile), check)
	}
	return fmt.Errorf("unknown store %q in the manifest", m.Store)
}

// loadSQLiteBackup loads a SQLite backup file into dst through a dump,
// from a migrated copy of the file (the backup stays as it is), with
// check run before the load commits.
func loadSQLiteBackup(ctx context.Context, dst store.CheckedLoader, file string, check func(store.BackupInfo) error) error {
	tmp, err := os.MkdirTemp("", "sker-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := store.RestoreSQLiteFile(ctx, file, filepath.Join(tmp, store.BackupDBFile)); err != nil {
		return err
	}
	src, err := store.OpenSQLite(ctx, filepath.Join(tmp, store.BackupDBFile))
	if err != nil {
		return err
	}
	defer src.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := src.Dump(ctx, pw)
		pw.CloseWithError(err)
	}()
	_, err = dst.LoadChecked(ctx, pr, check)
	_ = pr.CloseWithError(errors.New("load ended")) // stops the dump if the load failed first
	return err
}

// sameCanvases checks that the restored store holds every canvas of the
// manifest at its seq, and no other.
func sameCanvases(got, want map[string]uint64) error {
	var diff []string
	for id, seq := range want {
		if g, ok := got[id]; !ok || g != seq {
			diff = append(diff, fmt.Sprintf("%s: restored at %d, backup at %d", id, g, seq))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diff = append(diff, id+": restored, not in the backup")
		}
	}
	if diff != nil {
		sort.Strings(diff)
		return fmt.Errorf("app: restore: the restored store differs from the manifest: %v", diff)
	}
	return nil
}

// clearDir removes everything in dir, but dir itself.
func clearDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "lost+found" {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}
