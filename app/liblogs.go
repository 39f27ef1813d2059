package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	fiberlog "github.com/gofiber/fiber/v2/log"
)

// CaptureLibraryLogs sends what libraries write through the standard
// library's log package, or through Fiber's own logger, to log, so that
// every line the process writes is in LOG_FORMAT. (nats-server, go-redis
// and protoactor get log through their own options where they are built;
// amqp091-go and goose's Provider log nothing unless asked.) Call it once,
// before the components start.
func CaptureLibraryLogs(log *slog.Logger) {
	slog.SetDefault(log) // the log package's default logger writes through it
	fiberlog.SetOutput(&lineWriter{log: log.With("component", "fiber")})
}

// lineWriter turns lines of Fiber's logger ("2026/01/02 15:04:05.000000
// file.go:12: [Warn] text") into records of log at the level they name.
type lineWriter struct{ log *slog.Logger }

// fiberLevels are Fiber's level markers; Fatal and Panic are errors here
// (Fiber exits or panics after writing them).
var fiberLevels = []struct {
	mark  string
	level slog.Level
}{
	{"[Trace] ", slog.LevelDebug}, {"[Debug] ", slog.LevelDebug}, {"[Info] ", slog.LevelInfo},
	{"[Warn] ", slog.LevelWarn}, {"[Error] ", slog.LevelError}, {"[Fatal] ", slog.LevelError},
	{"[Panic] ", slog.LevelError},
}

// Write implements io.Writer; Fiber writes one whole line per call.
func (w *lineWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		text := strings.TrimRight(string(line), "\r\n")
		if text == "" {
			continue
		}
		level := slog.LevelInfo
		for _, l := range fiberLevels {
			if _, after, ok := strings.Cut(text, l.mark); ok {
				text, level = after, l.level
				break
			}
		}
		w.log.Log(context.Background(), level, text)
	}
	return len(p), nil
}
