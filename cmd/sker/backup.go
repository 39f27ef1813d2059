package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/config"
)

// backupUsage is the help of sker backup and sker restore.
const backupUsage = `
Backup and restore (docs/operations.md):
  sker backup [--out FOLDER] [--server URL] [flags]
      asks the running server (at --server, default http://127.0.0.1:PORT)
      to checkpoint every canvas and copy its store into FOLDER on the
      server's machine (default: a new folder in BACKUP_DIR), while it serves.
      The server admits it from loopback, or with OPS_TOKEN when that is set.
  sker restore --from FOLDER [flags]
      restores a backup onto an empty DATA_DIR (and, with DATABASE_URL, an
      empty database); then start the node with sker serve.
`

// takeFlags removes the flags named in own (each with a value: --name v or
// --name=v, one dash or two) from args and returns their values and the
// other arguments, for config.Load.
func takeFlags(args []string, own ...string) (map[string]string, []string, error) {
	vals := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || !contains(own, name) {
			rest = append(rest, args[i])
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		vals[name] = value
	}
	return vals, rest, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// backup asks the running server for a backup.
func backup(ctx context.Context, args []string, getenv func(string) string) error {
	own, rest, err := takeFlags(args, "out", "server")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	cfg, extra, err := config.Load(rest, getenv, ".env")
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("backup: unexpected arguments %q", extra)
	}
	server := own["server"]
	if server == "" {
		server = "http://" + localAddr(cfg)
	}
	var req app.BackupRequest
	if out := own["out"]; out != "" {
		// The server writes it, from its own working folder.
		if req.Out, err = filepath.Abs(out); err != nil {
			return fmt.Errorf("backup: --out: %w", err)
		}
	}
	start := time.Now()
	res, err := postBackup(ctx, server, cfg.OpsToken, req)
	if err != nil {
		return err
	}
	m := res.Manifest
	fmt.Printf("backup: wrote %s: %d canvases (%d checkpointed first), %s store at schema version %d, in %v\n",
		res.Path, len(m.Canvases), m.Checkpointed, m.Store, m.SchemaVersion, time.Since(start).Round(time.Millisecond))
	return nil
}

// localAddr is where a server of cfg listens, as seen from this machine.
func localAddr(cfg config.Config) string {
	host := cfg.Host
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

func postBackup(ctx context.Context, server, token string, body app.BackupRequest) (app.BackupResponse, error) {
	var res app.BackupResponse
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return res, fmt.Errorf("backup: --server: want http://host:port, got %q", server)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+"/ops/backup", bytes.NewReader(b))
	if err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return res, fmt.Errorf("backup: no server answers at %s (is sker serve running? --server, or HOST and PORT, say where): %w", server, err)
		}
		return res, fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return res, fmt.Errorf("backup: read the answer: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return res, fmt.Errorf("backup: %s answered 404 to POST /ops/backup: the server admits it from loopback only, "+
			"or, when its OPS_TOKEN is set, with that token (set OPS_TOKEN here too)", server)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return res, fmt.Errorf("backup: the server answered %d: %s", resp.StatusCode, e.Error.Message)
		}
		return res, fmt.Errorf("backup: the server answered %d: %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return res, fmt.Errorf("backup: the server's answer: %w", err)
	}
	return res, nil
}

// restore restores a backup onto an empty node.
func restore(ctx context.Context, args []string, getenv func(string) string) error {
	own, rest, err := takeFlags(args, "from")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if own["from"] == "" {
		return errors.New("restore: --from FOLDER is required (a folder sker backup wrote)")
	}
	cfg, extra, err := config.Load(rest, getenv, ".env")
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("restore: unexpected arguments %q", extra)
	}
	start := time.Now()
	m, err := app.Restore(ctx, cfg, own["from"])
	if err != nil {
		return err
	}
	target := "SQLite in " + cfg.DataDir
	if cfg.DatabaseURL != "" {
		target = "PostgreSQL at DATABASE_URL, DATA_DIR " + cfg.DataDir
	}
	fmt.Printf("restore: %d canvases from %s (made by sker %s at %s from %s) into %s, in %v; start the node with sker serve\n",
		len(m.Canvases), own["from"], m.Version, m.CreatedAt.Format(time.RFC3339), m.Store, target, time.Since(start).Round(time.Millisecond))
	return nil
}
