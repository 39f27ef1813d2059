package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// TestRestorePostgresFailureLeavesDatabaseEmpty: a restore into
// PostgreSQL that fails after loading the rows (here: the store does not
// match the manifest) leaves the database without a row, so that a
// second restore is not refused as "not empty" and succeeds.
func TestRestorePostgresFailureLeavesDatabaseEmpty(t *testing.T) {
	ctx := t.Context()
	// A backup of a PostgreSQL store with one canvas at seq 3.
	srcURL := testkit.PostgresURL(t)
	if _, err := store.MigratePostgres(ctx, srcURL); err != nil {
		t.Fatal(err)
	}
	src, err := store.OpenPostgres(ctx, srcURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	now := time.Now().UTC()
	u := store.User{ID: "u1", Email: "u1@example.com", Name: "U", PasswordHash: "h", CreatedAt: now}
	c := store.Canvas{ID: "c1", Title: "T", Settings: []byte(`{}`), CreatedBy: u.ID, CreatedAt: now, UpdatedAt: now}
	if err := errors.Join(src.CreateUser(ctx, u), src.CreateCanvas(ctx, c, u.ID),
		src.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 0, Seq: 3, At: now})); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	info, files, err := src.Backup(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{Format: ManifestFormat, Version: "test", CreatedAt: now, Store: "postgres",
		SchemaVersion: info.SchemaVersion, Files: map[string]FileInfo{}, Canvases: map[string]uint64{c.ID: 4}}
	for _, f := range files {
		if m.Files[f], err = fileInfo(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeManifest(dir, m); err != nil {
		t.Fatal(err)
	}

	cfg := config.Config{DataDir: filepath.Join(t.TempDir(), "data"), DatabaseURL: testkit.PostgresURL(t), JWTSecret: "s"}
	_, err = Restore(ctx, cfg, dir)
	if err == nil || !strings.Contains(err.Error(), "differs from the manifest") {
		t.Fatalf("Restore with a wrong manifest: %v, want a mismatch", err)
	}
	if err := store.CheckPostgresEmpty(ctx, cfg.DatabaseURL); err != nil {
		t.Fatalf("after a failed restore the database is not empty: %v", err)
	}

	m.Canvases[c.ID] = 3
	if err := os.Remove(filepath.Join(dir, ManifestFile)); err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, cfg, dir); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if err := store.CheckPostgresEmpty(ctx, cfg.DatabaseURL); !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("after the restore CheckPostgresEmpty = %v, want ErrNotEmpty", err)
	}
}
