package embednats

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

var _ server.Logger = (*slogLogger)(nil)

// slogLogger routes nats-server's log lines to a *slog.Logger:
// Noticef → Info, Warnf → Warn, Errorf and Fatalf → Error,
// Debugf and Tracef → Debug.
//
// nats-server's own loggers exit the process on Fatalf; this one does not
// (an embedded server must never end its host). It remembers the first
// fatal message instead, so Start can report why the server did not
// become ready.
type slogLogger struct {
	log *slog.Logger

	mu    sync.Mutex // guards fatal
	fatal string     // first Fatalf message; empty when none
}

func newSlogLogger(log *slog.Logger) *slogLogger {
	return &slogLogger{log: log}
}

// Noticef logs at Info.
func (l *slogLogger) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v) }

// Warnf logs at Warn.
func (l *slogLogger) Warnf(format string, v ...any) { l.emit(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (l *slogLogger) Errorf(format string, v ...any) { l.emit(slog.LevelError, format, v) }

// Fatalf logs at Error and remembers the message; it does not exit.
func (l *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if l.fatal == "" {
		l.fatal = msg
	}
	l.mu.Unlock()
	l.log.Error(msg, "fatal", true)
}

// Debugf logs at Debug.
func (l *slogLogger) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

// Tracef logs at Debug: slog has no trace level, and nats-server only
// traces when the config file asks for it (trace: true).
func (l *slogLogger) Tracef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

// fatalMessage is the first Fatalf message, or "" when there was none.
func (l *slogLogger) fatalMessage() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

func (l *slogLogger) emit(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return // skip formatting lines nobody will see
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...))
}
