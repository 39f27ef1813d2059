package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// scheduledPrefix names the folders of scheduled backups, followed by the
// UTC time they were started: sker-backup-20260102T030405Z.
const scheduledPrefix = "sker-backup-"

const scheduledTime = "20060102T150405Z"

// ScheduledName is the folder name of a backup started at t.
func ScheduledName(t time.Time) string { return scheduledPrefix + t.UTC().Format(scheduledTime) }

// startBackups runs a backup every BACKUP_INTERVAL into BACKUP_DIR until
// ctx ends or Shutdown stops it, removing those older than
// BACKUP_RETENTION after each one that succeeds (so the newest always
// stays).
func (a *App) startBackups(ctx context.Context) {
	every := a.cfg.BackupInterval
	if every <= 0 {
		return
	}
	a.log.Info("scheduled backups", "every", every, "dir", a.cfg.BackupDir, "retention", a.cfg.BackupRetention)
	a.backups.schedule.start(ctx, every, a.scheduledBackup)
}

func (a *App) scheduledBackup(ctx context.Context) {
	if err := mkdirBackupDir(a.cfg.BackupDir); err != nil {
		a.log.Error("scheduled backup failed", "dir", a.cfg.BackupDir, "err", err)
		return
	}
	now := time.Now()
	if _, err := a.Backup(ctx, filepath.Join(a.cfg.BackupDir, ScheduledName(now))); err != nil {
		if ctx.Err() == nil {
			a.log.Error("scheduled backup failed", "dir", a.cfg.BackupDir, "err", err)
		}
		return
	}
	for _, path := range PruneBackups(a.cfg.BackupDir, now, a.cfg.BackupRetention) {
		a.log.Info("old backup removed", "path", path)
	}
}

// PruneBackups removes, in dir, the scheduled backups started more than
// retention before now (none when retention is zero) and the leftovers of
// scheduled backups that never finished, and returns what it removed. It
// touches nothing else in dir.
func PruneBackups(dir string, now time.Time, retention time.Duration) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		var old bool
		if partial, ok := strings.CutPrefix(name, "."+scheduledPrefix); ok {
			// A crash left it: its backup is older than an hour.
			ts, _, _ := strings.Cut(partial, ".partial-")
			t, err := time.Parse(scheduledTime, ts)
			old = err == nil && strings.Contains(partial, ".partial-") && now.Sub(t) > time.Hour
		} else if ts, ok := strings.CutPrefix(name, scheduledPrefix); ok && retention > 0 {
			t, err := time.Parse(scheduledTime, ts)
			old = err == nil && now.Sub(t) > retention
		}
		if old {
			path := filepath.Join(dir, name)
			if os.RemoveAll(path) == nil {
				removed = append(removed, path)
			}
		}
	}
	return removed
}

// mkdirBackupDir makes BACKUP_DIR, readable by the server's user only.
func mkdirBackupDir(dir string) error { return os.MkdirAll(dir, 0o700) }

// stop ends the scheduled backups and waits for them.
func (b *backups) stop() { b.schedule.stop() }
