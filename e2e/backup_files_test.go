package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skerhq/sker/testkit"
)

// TestBackupFiles: a backup holds the bytes of the uploaded files, and a
// node restored from it serves every one, on both stores and both file
// stores; a backup whose upload was damaged is refused.
func TestBackupFiles(t *testing.T) {
	for _, fileStore := range []string{"fs", "nats"} {
		t.Run("sqlite/"+fileStore, func(t *testing.T) { backupFiles(t, "", "", fileStore) })
		t.Run("postgres/"+fileStore, func(t *testing.T) {
			backupFiles(t, testkit.PostgresURL(t), testkit.PostgresURL(t), fileStore)
		})
	}
}

func backupFiles(t *testing.T, dbURL, restoreURL, fileStore string) {
	ctx := t.Context()
	env := map[string]string{"FILE_STORE": fileStore}
	s := NewSker(t, Options{DatabaseURL: dbURL, Env: env})
	if dbURL != "" {
		if res := s.Run("migrate"); res.Code != 0 {
			t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
		}
	}
	s.Start()
	c := s.NewClient()
	_, err := c.Register(ctx, "ops@example.com", "backup-password", "Ops")
	noErr(t, err)
	cv, err := c.CreateCanvas(ctx, "With files")
	noErr(t, err)
	bodies := [][]byte{e2ePNG(t, 8, 6), []byte("a text file, backed up"), bytes.Repeat([]byte("large "), 40000)}
	var ids []string
	for i, b := range bodies {
		f := wantFile(t, "upload", ans(uploadRaw(t, s, c.Token, cv.ID, b, fmt.Sprintf("f%d", i))))
		ids = append(ids, f.ID)
	}
	out := filepath.Join(t.TempDir(), "backup")
	if res := s.Run("backup", "--server", s.URL(), "--out", out); res.Code != 0 {
		t.Fatalf("sker backup: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	s.Stop()
	var m struct {
		Uploads map[string]struct {
			Size int64 `json:"size"`
		} `json:"uploads"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	noErr(t, err)
	noErr(t, json.Unmarshal(raw, &m))
	for i, id := range ids {
		if m.Uploads[id].Size != int64(len(bodies[i])) {
			t.Fatalf("manifest uploads: %v; want %s with %d bytes", m.Uploads, id, len(bodies[i]))
		}
	}

	// A damaged copy is refused before anything is written.
	damaged := filepath.Join(t.TempDir(), "damaged")
	noErr(t, os.CopyFS(damaged, os.DirFS(out)))
	noErr(t, os.WriteFile(filepath.Join(damaged, "uploads", ids[1]), []byte("A text file, backed up"), 0o600))
	bad := NewSker(t, Options{Env: env})
	if res := bad.Run("restore", "--from", damaged); res.Code == 0 || !strings.Contains(res.Stderr, "damaged") {
		t.Fatalf("restore of a damaged upload: code %d, stderr %s; want a failure saying the backup is damaged", res.Code, res.Stderr)
	}

	r := NewSker(t, Options{DatabaseURL: restoreURL, Env: env})
	if res := r.Run("restore", "--from", out); res.Code != 0 {
		t.Fatalf("sker restore: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	r.Start()
	rc := r.NewClient()
	_, err = rc.Login(ctx, "ops@example.com", "backup-password")
	noErr(t, err)
	for i, id := range ids {
		resp, got := fileReq(t, r, http.MethodGet, filesPath(cv.ID)+"/"+id, rc.Token, nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, bodies[i]) {
			t.Fatalf("restored file %d: got %d with %d bytes; want 200 with the %d bytes uploaded", i, resp.StatusCode, len(got), len(bodies[i]))
		}
	}
	if _, err := os.Stat(filepath.Join(r.DataDir, "restored-uploads")); !os.IsNotExist(err) {
		t.Fatalf("restored-uploads after the start: %v; want it gone", err)
	}
	if fileStore == "fs" {
		on := contentFiles(t, filepath.Join(r.DataDir, "uploads"))
		for _, id := range ids {
			if !slices.ContainsFunc(on, func(p string) bool { return filepath.Base(p) == id }) {
				t.Fatalf("UPLOAD_PATH of the restored node: %v; want %s", on, id)
			}
		}
	}
}
