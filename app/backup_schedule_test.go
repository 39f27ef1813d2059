package app

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPruneBackups: only scheduled backups past the retention and
// unfinished ones from more than an hour ago go; anything else in the
// folder stays, and a zero retention keeps every backup.
func TestPruneBackups(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	names := []string{
		ScheduledName(now.Add(-31 * 24 * time.Hour)),                // old: goes
		ScheduledName(now.Add(-29 * 24 * time.Hour)),                // kept
		ScheduledName(now),                                          // kept
		"." + ScheduledName(now.Add(-2*time.Hour)) + ".partial-123", // a crash's leftover: goes
		"." + ScheduledName(now.Add(-time.Minute)) + ".partial-456", // may be running: kept
		"sker-backup-not-a-time",                                    // not ours: kept
		"my-backup-2020",                                            // not ours: kept
	}
	for _, n := range names {
		if err := os.Mkdir(filepath.Join(dir, n), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ScheduledName(now.Add(-90*24*time.Hour))), nil, 0o600); err != nil {
		t.Fatal(err) // a file, not a backup folder: kept
	}
	if got := PruneBackups(dir, now, 0); len(got) != 1 {
		t.Errorf("PruneBackups with retention 0: removed %v; want only the unfinished one", got)
	}
	got := PruneBackups(dir, now, 30*24*time.Hour)
	want := []string{filepath.Join(dir, names[0])}
	if !slices.Equal(got, want) {
		t.Errorf("PruneBackups: removed %v; want %v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 6 {
		t.Errorf("left in the folder: %v; want 6 entries", left)
	}
}
