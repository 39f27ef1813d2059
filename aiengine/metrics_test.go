package aiengine

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/testkit"
)

// TestRecordCountsRuns: every recorded run is counted by provider and
// outcome, and its duration observed.
func TestRecordCountsRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cfg := Config{Store: &leftRecorder{}, Logger: testkit.Logger(), Metrics: m}
	cfg.setDefaults()
	e := &Engine{cfg: cfg, log: cfg.Logger}
	for _, st := range []string{aicard.StatusDone, aicard.StatusDone, aicard.StatusError} {
		e.record(aicard.Job{Run: "r", Canvas: "c", Node: "q", Provider: "openai"}, canvases.AIResult{Status: st}, 3*time.Second, e.log)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("openai", "done")); got != 2 {
		t.Fatalf("done runs counted: %v; want 2", got)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("openai", "error")); got != 1 {
		t.Fatalf("error runs counted: %v; want 1", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Fatalf("duration series: %d; want 1", n)
	}
}
