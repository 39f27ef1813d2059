package main

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record microseconds from 1 µs to 2 minutes with 3 significant
// digits: one is about 150 KiB, so connections share a few shards rather
// than own one each.
const (
	histMinUS = 1
	histMaxUS = 120_000_000
	histSig   = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUS, histMaxUS, histSig) }

// Latency is a histogram of durations split into shards, each behind its
// own lock, so that thousands of receivers can record at once; Merge sums
// the shards.
type Latency struct {
	shards []latencyShard
}

type latencyShard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
	_  [40]byte // keep the shards' locks on separate cache lines
}

// NewLatency returns a Latency with n shards (at least 1).
func NewLatency(n int) *Latency {
	l := &Latency{shards: make([]latencyShard, max(n, 1))}
	for i := range l.shards {
		l.shards[i].h = newHist()
	}
	return l
}

// Record adds one duration to the shard picked by key (any int: a client's
// index). Durations outside the histogram's range are clamped to it, so a
// negative duration (clock step) counts as 1 µs rather than vanishing.
func (l *Latency) Record(key int, d time.Duration) {
	us := clampUS(d.Microseconds())
	s := &l.shards[uint(key)%uint(len(l.shards))]
	s.mu.Lock()
	_ = s.h.RecordValue(us)
	s.mu.Unlock()
}

func clampUS(us int64) int64 {
	return min(max(us, histMinUS), histMaxUS)
}

// Merge returns a new histogram holding every shard's values.
func (l *Latency) Merge() *hdrhistogram.Histogram {
	out := newHist()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.mu.Unlock()
	}
	return out
}

// LatencySummary is the JSON form of a latency histogram, in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize reads the percentiles of a histogram of microseconds.
func Summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h.TotalCount() == 0 {
		return LatencySummary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return LatencySummary{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// Reasons counts events by reason (error codes, close codes).
type Reasons struct {
	mu sync.Mutex
	m  map[string]int64
}

// Add counts one event.
func (r *Reasons) Add(reason string) { r.AddN(reason, 1) }

// AddN counts n events.
func (r *Reasons) AddN(reason string, n int64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]int64{}
	}
	r.m[reason] += n
	r.mu.Unlock()
}

// Total is the number of events of every reason.
func (r *Reasons) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, c := range r.m {
		n += c
	}
	return n
}

// Map is a copy of the counts (never nil, so JSON shows {}).
func (r *Reasons) Map() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.m))
	for k, v := range r.m {
		out[k] = v
	}
	return out
}

// String lists the reasons, most frequent first, for the progress line.
func (r *Reasons) String() string {
	m := r.Map()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	out := ""
	for i, k := range keys {
		if i == 3 {
			out += " …"
			break
		}
		if i > 0 {
			out += ", "
		}
		out += k + "=" + strconv.FormatInt(m[k], 10)
	}
	return out
}

// Counters are a run's event counts. Sends stamped inside the measurement
// window are "window" sends; their acks and deliveries are counted apart
// so that rates cover exactly the window.
type Counters struct {
	Sent      atomic.Int64 // batches sent, any time
	Acked     atomic.Int64 // acks received, any time
	Rejected  atomic.Int64 // rejects received, any time
	Delivered atomic.Int64 // batch deliveries to receivers, any time

	WinSent         atomic.Int64 // batches sent inside the window
	WinOps          atomic.Int64 // ops in those batches
	WinAcked        atomic.Int64 // acks of window batches
	WinAckedOps     atomic.Int64 // ops in acked window batches
	WinDelivered    atomic.Int64 // deliveries of window batches
	WinDeliveredOps atomic.Int64 // ops in those deliveries
}
