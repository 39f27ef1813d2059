package app

import (
	"encoding/json"
	stdlog "log"
	"log/slog"
	"strings"
	"testing"

	fiberlog "github.com/gofiber/fiber/v2/log"

	"github.com/skerhq/sker/testkit"
)

// TestCaptureLibraryLogs: lines of the standard log package and of
// Fiber's logger come out as JSON records of the process logger, at the
// level Fiber named.
func TestCaptureLibraryLogs(t *testing.T) {
	prevSlog, prevFlags, prevOut := slog.Default(), stdlog.Flags(), stdlog.Writer()
	t.Cleanup(func() {
		slog.SetDefault(prevSlog)
		stdlog.SetFlags(prevFlags)
		stdlog.SetOutput(prevOut)
		fiberlog.SetOutput(prevOut)
	})
	buf := &testkit.LogBuffer{}
	CaptureLibraryLogs(slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	stdlog.Printf("plain library line %d", 1)
	fiberlog.Warn("[CORS] a warning")
	fiberlog.Errorf("closing file: %s", "boom")

	type rec struct {
		Level, Msg, Component string
	}
	var got []rec
	for line := range strings.Lines(buf.String()) {
		var r rec
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		got = append(got, r)
	}
	want := []rec{
		{"INFO", "plain library line 1", ""},
		{"WARN", "[CORS] a warning", "fiber"},
		{"ERROR", "closing file: boom", "fiber"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v; want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}
