package actors

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a canvas fails to load, as LoadFailure.Reason and the reason
// label of sker_canvas_load_failures_total.
const (
	// ReasonJournalGap: the journal does not continue the stored
	// checkpoint (it was trimmed past it, or the store is older than the
	// journal, as after restoring an old copy of the store alone). It does
	// not mend itself: `sker doctor` names the seqs lost and repairs it.
	ReasonJournalGap = "journal_gap"
	// ReasonReplay: a journal batch after the checkpoint does not apply.
	ReasonReplay  = "replay"
	ReasonStore   = "store"   // reading the canvas or its checkpoint failed
	ReasonJournal = "journal" // reading the journal or appending the epoch marker failed
	ReasonClaim   = "claim"   // claiming the canvas for this node failed
	ReasonTimeout = "timeout" // the load took more than LoadTimeout
	ReasonOther   = "other"
)

// reasonError tags a load error with its reason; its text is the error's.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// withReason tags err, unless it has a reason already (the innermost,
// most precise one stays); nil stays nil.
func withReason(reason string, err error) error {
	var re *reasonError
	if err == nil || errors.As(err, &re) {
		return err
	}
	return &reasonError{reason: reason, err: err}
}

// loadFailureReason classifies a load error.
func loadFailureReason(err error) string {
	var re *reasonError
	switch {
	case errors.As(err, &re) && (re.reason == ReasonJournalGap || re.reason == ReasonReplay):
		return re.reason
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return ReasonTimeout
	case errors.As(err, &re):
		return re.reason
	}
	return ReasonOther
}

// LoadFailure is a canvas that this node could not load, as of its last
// attempt: every request to it is answered "unavailable" and tries again.
type LoadFailure struct {
	Reason   string    `json:"reason"`
	Error    string    `json:"error"`
	Since    time.Time `json:"since"` // the first failed attempt in a row
	Last     time.Time `json:"last"`
	Attempts int       `json:"attempts"`
}

// loadFailures are the canvases whose last load failed, until one loads
// (or is found deleted). It backs the failure counter and the gauge of
// canvases that cannot load, and tells the operator about each canvas
// once, when it starts failing.
type loadFailures struct {
	mu      sync.Mutex
	m       map[string]LoadFailure
	total   *prometheus.CounterVec
	failing prometheus.Gauge
	log     *slog.Logger
	nowFunc func() time.Time
}

func newLoadFailures(reg prometheus.Registerer, log *slog.Logger) *loadFailures {
	f := &loadFailures{
		m: map[string]LoadFailure{},
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sker_canvas_load_failures_total",
			Help: "Canvas loads that failed on this node, by reason: journal_gap, replay, store, journal, claim, timeout, other.",
		}, []string{"reason"}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sker_canvases_load_failing",
			Help: "Canvases whose last load on this node failed (they answer 503 until one succeeds).",
		}),
		log: log, nowFunc: time.Now,
	}
	if reg != nil {
		reg.MustRegister(f.total, f.failing)
	}
	return f
}

// failed records a failed load of canvasID.
func (f *loadFailures) failed(canvasID string, err error) {
	reason := loadFailureReason(err)
	f.total.WithLabelValues(reason).Inc()
	now := f.nowFunc()
	f.mu.Lock()
	prev, seen := f.m[canvasID]
	cur := LoadFailure{Reason: reason, Error: err.Error(), Since: now, Last: now, Attempts: 1}
	if seen {
		cur.Since, cur.Attempts = prev.Since, prev.Attempts+1
	}
	f.m[canvasID] = cur
	f.failing.Set(float64(len(f.m)))
	f.mu.Unlock()
	if !seen || prev.Reason != reason {
		attrs := []any{"canvas_id", canvasID, "reason", reason, "err", err}
		if reason == ReasonJournalGap {
			attrs = append(attrs, "hint", "the store and the journal disagree: run sker doctor")
		}
		f.log.Error("canvas cannot load", attrs...)
	}
}

// loaded forgets canvasID's failures: it loaded, or it does not exist.
func (f *loadFailures) loaded(canvasID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.m[canvasID]; ok {
		delete(f.m, canvasID)
		f.failing.Set(float64(len(f.m)))
		f.log.Info("canvas loads again", "canvas_id", canvasID, "failed_attempts", prev.Attempts)
	}
}

// LoadFailure reports whether the last load of canvasID on this node
// failed, and how.
func (h *Hub) LoadFailure(canvasID string) (LoadFailure, bool) {
	h.failures.mu.Lock()
	defer h.failures.mu.Unlock()
	f, ok := h.failures.m[canvasID]
	return f, ok
}

// LoadFailures are the canvases whose last load on this node failed.
func (h *Hub) LoadFailures() map[string]LoadFailure {
	h.failures.mu.Lock()
	defer h.failures.mu.Unlock()
	return maps.Clone(h.failures.m)
}
