package testkit

import (
	"io"
	"log/slog"
	"os"
)

// Logger discards logs unless SKER_TEST_LOG is set, when it writes them,
// debug and up, to standard error.
func Logger() *slog.Logger {
	if os.Getenv("SKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
