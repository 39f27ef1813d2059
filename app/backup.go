package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// ManifestFile is the name of a backup's manifest, written last: a folder
// without one is not a backup.
const ManifestFile = "manifest.json"

// ManifestFormat is the version of a backup's layout.
const ManifestFormat = 1

// Manifest describes a backup: which sker made it and when, the store it
// copied and that store's schema version, every file with its size and
// SHA-256, and every canvas with the seq of the checkpoint the copy holds.
type Manifest struct {
	Format        int                 `json:"format"`
	Version       string              `json:"sker_version"`
	CreatedAt     time.Time           `json:"created_at"`
	Store         string              `json:"store"` // "sqlite" or "postgres"
	SchemaVersion int64               `json:"schema_version"`
	Files         map[string]FileInfo `json:"files"`
	// Uploads lists the uploaded files' bytes the backup holds, by id,
	// in its folder uploads (app/backup_files.go); none in a backup of a
	// sker that did not copy them.
	Uploads  map[string]FileInfo `json:"uploads,omitempty"`
	Canvases map[string]uint64   `json:"canvases"`
	// Checkpointed is how many canvases had changes only in the journal
	// and were checkpointed for the backup.
	Checkpointed int `json:"checkpointed"`
	// TookMillis is how long the backup took.
	TookMillis int64 `json:"took_ms"`
}

// FileInfo is one file of a backup.
type FileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Errors of Backup.
var (
	// ErrBackupRunning: a backup is already being made on this node.
	ErrBackupRunning = errors.New("app: a backup is already running")
	// ErrBackupTarget: the folder to write the backup to is not usable.
	ErrBackupTarget = errors.New("app: backup target")
)

// backupStore is a store that can copy itself: both kinds.
type backupStore interface {
	CheckpointSeqs(ctx context.Context) (map[string]uint64, error)
	Backup(ctx context.Context, dir string) (store.BackupInfo, []string, error)
}

// backups is the node's backup state: one backup at a time, and the
// scheduled ones' goroutine.
type backups struct {
	mu       sync.Mutex // held while a backup runs
	schedule periodic   // BACKUP_INTERVAL's backups
}

// Backup writes a consistent backup of the running node to the folder
// out, which must not exist (or be empty): first every canvas whose
// journal holds batches beyond its stored checkpoint is checkpointed, so
// that every change acknowledged before the call is in the store; then
// the store is copied in one snapshot (SQLite VACUUM INTO, PostgreSQL one
// REPEATABLE READ transaction) while the node serves on. The copy is
// checked against the journal: each canvas holds at least the seq its
// journal had when the backup started. The folder appears whole or not at
// all: it is written beside out and renamed.
func (a *App) Backup(ctx context.Context, out string) (Manifest, error) {
	if !a.backups.mu.TryLock() {
		return Manifest{}, ErrBackupRunning
	}
	defer a.backups.mu.Unlock()
	start := time.Now()
	bs, ok := a.store.(backupStore)
	if !ok {
		return Manifest{}, fmt.Errorf("app: backup: the store %T cannot copy itself", a.store)
	}
	out, err := backupTarget(out)
	if err != nil {
		return Manifest{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrBackupTarget, err)
	}
	defer os.RemoveAll(tmp) // after the rename, nothing is left to remove

	journalSeqs, checkpointed, err := a.checkpointAll(ctx, bs)
	if err != nil {
		return Manifest{}, err
	}
	info, files, err := bs.Backup(ctx, tmp)
	if err != nil {
		return Manifest{}, fmt.Errorf("app: backup: %w", err)
	}
	if err := coversJournal(info.Canvases, journalSeqs); err != nil {
		return Manifest{}, err
	}
	uploads, err := a.backupUploads(ctx, tmp)
	if err != nil {
		return Manifest{}, err
	}
	if a.cfg.JWTSecret == "" {
		// The development secret signs the sessions: with it, they survive
		// a restore.
		copied, err := copyIfExists(filepath.Join(a.cfg.DataDir, auth.SecretFile), filepath.Join(tmp, auth.SecretFile))
		if err != nil {
			return Manifest{}, fmt.Errorf("app: backup: %w", err)
		}
		if copied {
			files = append(files, auth.SecretFile)
		}
	}
	m := Manifest{
		Format: ManifestFormat, Version: a.version, CreatedAt: start.UTC(), Store: storeKind(a.cfg),
		SchemaVersion: info.SchemaVersion, Files: map[string]FileInfo{}, Canvases: info.Canvases,
		Checkpointed: checkpointed, Uploads: uploads,
	}
	for _, f := range files {
		if m.Files[f], err = fileInfo(filepath.Join(tmp, f)); err != nil {
			return Manifest{}, fmt.Errorf("app: backup: %w", err)
		}
	}
	m.TookMillis = time.Since(start).Milliseconds()
	if err := writeManifest(tmp, m); err != nil {
		return Manifest{}, err
	}
	if err := placeBackup(tmp, out); err != nil {
		return Manifest{}, err
	}
	a.log.Info("backup written", "path", out, "store", m.Store, "canvases", len(m.Canvases), "uploads", len(m.Uploads),
		"checkpointed", checkpointed, "duration", time.Since(start).Round(time.Millisecond))
	return m, nil
}

// backupTarget makes out absolute and checks that it is absent or an empty
// folder, in an existing folder.
func backupTarget(out string) (string, error) {
	if out == "" {
		return "", fmt.Errorf("%w: no folder given", ErrBackupTarget)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBackupTarget, err)
	}
	if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%w: %s is not a folder", ErrBackupTarget, filepath.Dir(out))
	}
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("%w: %s exists and is not a folder", ErrBackupTarget, out)
	case len(entries) > 0:
		return "", fmt.Errorf("%w: %s exists and is not empty", ErrBackupTarget, out)
	}
	return out, nil
}

// checkpointAll checkpoints every canvas whose journal holds batches
// beyond its stored checkpoint, and returns the journal's last seq of each
// canvas at the start and how many were checkpointed. The journal is read
// first: every batch acknowledged before the call is in it.
func (a *App) checkpointAll(ctx context.Context, bs backupStore) (map[string]uint64, int, error) {
	journalSeqs, err := a.journal.LastSeqs(ctx)
	for attempt := 1; err != nil && errors.Is(err, nats.ErrNoResponders) && attempt < 10; attempt++ {
		// On a cluster the read may go unanswered while the journal's
		// stream leader moves; the scan is read-only, so it is tried again.
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("app: backup: %w", ctx.Err())
		}
		journalSeqs, err = a.journal.LastSeqs(ctx)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("app: backup: %w", err)
	}
	stored, err := bs.CheckpointSeqs(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("app: backup: %w", err)
	}
	var behind []string
	for id, seq := range journalSeqs {
		if cp, ok := stored[id]; ok && seq > cp {
			behind = append(behind, id)
		}
	}
	sort.Strings(behind)
	// A few at a time: each may load its canvas.
	const parallel = 4
	errs := make([]error, len(behind))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, id := range behind {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = a.checkpointCanvas(ctx, id, journalSeqs[id])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	return journalSeqs, len(behind), nil
}

// checkpointCanvas asks the canvas's actor for a checkpoint covering seq,
// retrying while the canvas is unavailable (passivating, reloading).
func (a *App) checkpointCanvas(ctx context.Context, id string, seq uint64) error {
	var err error
	for attempt := range 6 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		_, err = a.checkpoint(ctx, id, seq)
		switch {
		case err == nil, errors.Is(err, canvases.ErrNotFound):
			return nil // a deleted canvas is not in the copy either
		case !errors.Is(err, canvases.ErrUnavailable) && !errors.Is(err, actors.ErrCheckpointBehind):
			// Behind: the journal has a batch whose append the actor has
			// not seen acknowledged yet; it will in a moment.
			return fmt.Errorf("app: backup: checkpoint canvas %s: %w", id, err)
		}
	}
	return fmt.Errorf("app: backup: checkpoint canvas %s (its journal holds seq %d): %w", id, seq, err)
}

// checkpoint asks the canvas's owner for a checkpoint covering seq: this
// node's actor, or on a cluster whichever node owns the canvas.
func (a *App) checkpoint(ctx context.Context, id string, seq uint64) (uint64, error) {
	if a.router != nil {
		return a.router.Checkpoint(ctx, id, seq)
	}
	return a.hub.Checkpoint(ctx, id, seq)
}

// coversJournal checks that the copy holds, for each canvas it has, at
// least the seq the journal had when the backup started.
func coversJournal(copied, journalSeqs map[string]uint64) error {
	var short []string
	for id, seq := range journalSeqs {
		if got, ok := copied[id]; ok && got < seq {
			short = append(short, fmt.Sprintf("%s (copy at seq %d, journal at %d)", id, got, seq))
		}
	}
	if short != nil {
		sort.Strings(short)
		return fmt.Errorf("app: backup: the copy lacks acknowledged changes of %d canvases: %v", len(short), short)
	}
	return nil
}

func copyIfExists(src, dst string) (bool, error) {
	b, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, writeSynced(dst, b)
}

// writeSynced writes a new file (0600) and syncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Sync(), f.Close())
}

func fileInfo(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return fmt.Errorf("app: backup: manifest: %w", err)
	}
	return nil
}

// placeBackup renames the finished folder tmp to out (replacing an empty
// folder there) and syncs their parent, so the backup survives a crash.
func placeBackup(tmp, out string) error {
	if err := syncPath(tmp); err != nil {
		return fmt.Errorf("app: backup: %w", err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fmt.Errorf("app: backup: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("%w: %v", ErrBackupTarget, err)
	}
	return syncPath(filepath.Dir(out))
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// ReadManifest reads the manifest of the backup in dir and checks that
// every file it lists is there with its size and SHA-256.
func ReadManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, fmt.Errorf("%s has no %s: not a finished backup", dir, ManifestFile)
	}
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.Format != ManifestFormat {
		return Manifest{}, fmt.Errorf("%s: backup format %d; this sker reads %d", ManifestFile, m.Format, ManifestFormat)
	}
	for name, want := range m.Files {
		if filepath.Base(name) != name {
			return Manifest{}, fmt.Errorf("%s: bad file name %q", ManifestFile, name)
		}
		got, err := fileInfo(filepath.Join(dir, name))
		if err != nil {
			return Manifest{}, fmt.Errorf("backup file %s: %w", name, err)
		}
		if got != want {
			return Manifest{}, fmt.Errorf("backup file %s: %d bytes with SHA-256 %s; the manifest says %d bytes, %s: the backup is damaged",
				name, got.Size, got.SHA256, want.Size, want.SHA256)
		}
	}
	if err := checkUploads(dir, m); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
