package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A flock belongs to an open file, not to a process: a second Acquire in
// the same process opens the file again and is refused like another
// process would be.

func TestSecondAcquireRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "sker serve")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = Acquire(dir, "sker serve")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire: got %v; want a *HeldError", err)
	}
	if !held.Known || held.Holder.PID != os.Getpid() || held.Holder.Command != "sker serve" || held.Holder.Started.IsZero() {
		t.Errorf("second Acquire: holder %+v (known %v); want pid %d, command sker serve and a start time", held.Holder, held.Known, os.Getpid())
	}
	msg := err.Error()
	for _, want := range []string{dir + " is in use by sker serve", fmt.Sprintf("(pid %d ", os.Getpid()), ", started "} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q; want it to contain %q", msg, want)
		}
	}
}

func TestReleaseLetsTheNextAcquire(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v; want nil", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || len(b) != 0 {
		t.Errorf("lock file after Release: %q, %v; want it kept and empty", b, err)
	}
	l2, err := Acquire(dir, "second")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
}

// TestStaleRecordReplaced: a holder that died without releasing (kill -9)
// leaves its record; the next holder's record replaces it, even when the
// old one was longer.
func TestStaleRecordReplaced(t *testing.T) {
	dir := t.TempDir()
	stale := `{"pid":99999999,"host":"` + strings.Repeat("h", 500) + `","command":"old","started":"2020-01-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir, "new")
	if err != nil {
		t.Fatalf("Acquire over a stale record: %v", err)
	}
	defer l.Release()
	_, err = Acquire(dir, "other")
	var held *HeldError
	if !errors.As(err, &held) || !held.Known || held.Holder.PID != os.Getpid() || held.Holder.Command != "new" {
		t.Errorf("second Acquire: got %v; want held by pid %d, command new", err, os.Getpid())
	}
}

// TestUnknownHolder: a held lock whose file says nothing useful still
// refuses, naming the lock file.
func TestUnknownHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "second")
	var held *HeldError
	if !errors.As(err, &held) || held.Known {
		t.Fatalf("Acquire: got %v; want a *HeldError with an unknown holder", err)
	}
	if want := filepath.Join(dir, FileName); !strings.Contains(err.Error(), want) {
		t.Errorf("message %q; want it to name %s", err, want)
	}
}

func TestMissingDir(t *testing.T) {
	_, err := Acquire(filepath.Join(t.TempDir(), "absent"), "x")
	var held *HeldError
	if err == nil || errors.As(err, &held) {
		t.Errorf("Acquire in a missing folder: got %v; want an open error", err)
	}
}
