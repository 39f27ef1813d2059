package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/skerhq/sker/config"
)

// TestWhenFormedRetriesUntilAnswered: a clustered node tries again while
// JetStream does not answer, and gives up at once on a final error.
func TestWhenFormedRetriesUntilAnswered(t *testing.T) {
	a := &App{cfg: config.Config{NatsClusterListen: "127.0.0.1:6222"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	calls := 0
	err := a.whenFormed(context.Background(), "test stream", func(context.Context) error {
		if calls++; calls < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("transient errors: got %v after %d calls; want nil after 3", err, calls)
	}

	bad := errors.New("bridge: URL: want an amqp:// or amqps:// URL")
	calls = 0
	err = a.whenFormed(context.Background(), "test stream", func(context.Context) error {
		calls++
		return finalError{bad}
	})
	var f finalError
	if !errors.Is(err, bad) || errors.As(err, &f) || calls != 1 {
		t.Errorf("final error: got %v (%T) after %d calls; want %v itself after 1", err, err, calls, bad)
	}
}
