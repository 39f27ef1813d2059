package app

import (
	"errors"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/apierr"
	skerhttp "github.com/skerhq/sker/http"
)

// opsRoutes adds the operations routes, answered only as skerhttp.OpsOnly
// admits (OPS_TOKEN, or loopback).
func (a *App) opsRoutes() {
	a.http.App().Post("/ops/backup", skerhttp.OpsOnly(a.cfg.OpsToken), a.postBackup)
}

// BackupRequest is the body of POST /ops/backup.
type BackupRequest struct {
	// Out is the folder to write, on the server's machine; empty means a
	// new folder in BACKUP_DIR named like the scheduled ones.
	Out string `json:"out"`
}

// BackupResponse is the answer of POST /ops/backup.
type BackupResponse struct {
	Path     string   `json:"path"`
	Manifest Manifest `json:"manifest"`
}

func (a *App) postBackup(c *fiber.Ctx) error {
	var req BackupRequest
	if len(c.Body()) > 0 {
		if err := skerhttp.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	out := req.Out
	if out == "" {
		out = filepath.Join(a.cfg.BackupDir, ScheduledName(time.Now()))
		if err := mkdirBackupDir(a.cfg.BackupDir); err != nil {
			return apierr.New(http.StatusInternalServerError, apierr.CodeInternal, "backup failed: "+err.Error())
		}
	} else if !filepath.IsAbs(out) {
		return apierr.Invalid("out", "want an absolute path on the server's machine")
	}
	m, err := a.Backup(c.UserContext(), out)
	switch {
	case errors.Is(err, ErrBackupRunning):
		return apierr.New(http.StatusConflict, apierr.CodeConflict, "a backup is already running on this node")
	case errors.Is(err, ErrBackupTarget):
		return apierr.Invalid("out", err.Error())
	case err != nil:
		a.log.Error("backup failed", "err", err)
		return apierr.New(http.StatusInternalServerError, apierr.CodeInternal, "backup failed: "+err.Error())
	}
	abs, _ := filepath.Abs(out)
	return c.JSON(BackupResponse{Path: abs, Manifest: m})
}
