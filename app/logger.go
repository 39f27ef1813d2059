package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/skerhq/sker/config"
)

// NewLogger returns the process logger described by LOG_LEVEL and LOG_FORMAT.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openAccessLog is the logger of the line per request that ACCESS_LOG
// asks for: nil for on (the process log) and off, or one appending to
// the file it names, in LOG_FORMAT, with the file to close at the end.
// The file is opened in append mode, so that logrotate's copytruncate
// can rotate it under a running node.
func openAccessLog(cfg config.Config) (*slog.Logger, *os.File, error) {
	path := cfg.AccessLogFile()
	if path == "" {
		return nil, nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("app: ACCESS_LOG: %w", err)
	}
	return NewLogger(cfg, f), f, nil
}

// openAccessLog opens ACCESS_LOG's file, when it names one, for the App
// to close.
func (a *App) openAccessLog() (*slog.Logger, error) {
	log, f, err := openAccessLog(a.cfg)
	a.accessFile = f
	return log, err
}
