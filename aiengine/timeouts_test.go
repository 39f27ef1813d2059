package aiengine

import (
	"context"
	"testing"
	"time"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// left is how long ctx has before its deadline, or -1 without one.
func left(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return -1
	}
	return time.Until(dl)
}

// leftFinisher and leftRecorder report how long the ctx of each call had
// left. They stand in for the canvases and the store, which are SKER's own
// interfaces here.
type leftFinisher struct{ got time.Duration }

func (f *leftFinisher) FinishAIRun(ctx context.Context, _, _, _ string, _ canvases.AIResult) error {
	f.got = left(ctx)
	return nil
}

type leftRecorder struct{ got time.Duration }

func (r *leftRecorder) RecordAIRun(ctx context.Context, _ store.AIRun) error {
	r.got = left(ctx)
	return nil
}

// TestFinishAndRecordTimeoutsFromConfig: committing a run's result and
// recording its usage are bounded by FinishTimeout and RecordTimeout.
func TestFinishAndRecordTimeoutsFromConfig(t *testing.T) {
	const finishTimeout, recordTimeout = 3 * time.Second, 2 * time.Second
	rec := &leftRecorder{}
	cfg := Config{Store: rec, Logger: testkit.Logger(), FinishTimeout: finishTimeout, RecordTimeout: recordTimeout}
	cfg.setDefaults()
	e := &Engine{cfg: cfg, log: cfg.Logger}
	f := &leftFinisher{}
	job := aicard.Job{Run: "r", Canvas: "c", Node: "q"}
	res := canvases.AIResult{Status: aicard.StatusDone}
	e.finish(job, res, f, e.log)
	e.record(job, res, time.Second, e.log)
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"FinishAIRun (FinishTimeout)", f.got, finishTimeout},
		{"RecordAIRun (RecordTimeout)", rec.got, recordTimeout},
	} {
		if c.got > c.want || c.got < c.want-time.Second {
			t.Errorf("%s: ctx had %v left; want at most %v, and nearly all of it", c.name, c.got, c.want)
		}
	}
}

// TestTimeoutDefaults: zero timeouts take their documented defaults.
func TestTimeoutDefaults(t *testing.T) {
	var cfg Config
	cfg.setDefaults()
	if cfg.FinishTimeout != 10*time.Second || cfg.RecordTimeout != 5*time.Second {
		t.Errorf("defaults: got FinishTimeout %v, RecordTimeout %v; want 10s, 5s", cfg.FinishTimeout, cfg.RecordTimeout)
	}
}
