package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
)

func testAIRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	day1 := time.Date(2026, 11, 20, 23, 30, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Hour) // the next UTC day
	runs := []store.AIRun{
		{ID: "r1", UserID: "u1", CanvasID: "c", NodeID: "n", Provider: "openai", Model: "m1", InputTokens: 10, OutputTokens: 5, Duration: time.Second, Outcome: "done", CreatedAt: day1},
		{ID: "r2", UserID: "u1", CanvasID: "c", NodeID: "n", Provider: "openai", Model: "m1", InputTokens: 7, OutputTokens: 3, Outcome: "error", Error: "boom", CreatedAt: day1.Add(time.Minute)},
		{ID: "r3", UserID: "u1", CanvasID: "c", NodeID: "n", Provider: "anthropic", Model: "m2", InputTokens: 1, OutputTokens: 2, Outcome: "cancelled", CreatedAt: day2},
		{ID: "r4", UserID: "u2", CanvasID: "c", NodeID: "n", Provider: "openai", Model: "m1", InputTokens: 100, OutputTokens: 100, Outcome: "done", CreatedAt: day2},
	}
	for _, r := range runs {
		if err := s.RecordAIRun(ctx, r); err != nil {
			t.Fatalf("RecordAIRun %s: %v", r.ID, err)
		}
	}
	if err := s.RecordAIRun(ctx, runs[0]); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RecordAIRun twice: got %v; want ErrConflict", err)
	}
	usage, err := s.AIUsage(ctx, "u1", day1.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(usage)
	want := "[{2026-11-21 anthropic m2 1 1 2} {2026-11-20 openai m1 2 17 8}]"
	if got != want {
		t.Fatalf("AIUsage: got %s; want %s", got, want)
	}
	usage, err = s.AIUsage(ctx, "u1", day2)
	if err != nil || len(usage) != 1 || usage[0].Model != "m2" {
		t.Fatalf("AIUsage since day2: got %v, %v; want only m2", usage, err)
	}
}
