package main

import (
	"sync"
	"testing"
	"time"
)

// Merging the shards must give exactly the histogram of all values, however
// the values were spread over the shards and whichever goroutine recorded
// them.
func TestLatencyMergeEqualsOneHistogram(t *testing.T) {
	l := NewLatency(8)
	want := newHist()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 16 {
		wg.Go(func() {
			for i := range 1000 {
				d := time.Duration((g*1000+i)%5000+1) * 10 * time.Microsecond
				l.Record(g*7+i, d)
				mu.Lock()
				_ = want.RecordValue(d.Microseconds())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := l.Merge()
	if got.TotalCount() != 16000 {
		t.Fatalf("merged count = %d; want 16000", got.TotalCount())
	}
	if !got.Equals(want) {
		t.Errorf("merged histogram differs from the histogram of all values: p50 %d/%d, p99 %d/%d, max %d/%d",
			got.ValueAtQuantile(50), want.ValueAtQuantile(50), got.ValueAtQuantile(99), want.ValueAtQuantile(99), got.Max(), want.Max())
	}
	// Merge copies: recording more must not change an earlier merge.
	l.Record(0, time.Second)
	if got.TotalCount() != 16000 {
		t.Errorf("an earlier merge changed after a new record: count %d", got.TotalCount())
	}
}

func TestSummarizePercentiles(t *testing.T) {
	l := NewLatency(4)
	// 1..1000 ms: p50 = 500 ms, p99 = 990 ms, p99.9 = 999 ms, max = 1000 ms.
	for i := 1; i <= 1000; i++ {
		l.Record(i, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(l.Merge())
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", s.P50, 500}, {"p99", s.P99, 990}, {"p99.9", s.P999, 999}, {"max", s.Max, 1000}, {"mean", s.Mean, 500.5}} {
		// 3 significant digits: within 0.1%.
		if d := c.got - c.want; d < -c.want/1000 || d > c.want/1000 {
			t.Errorf("%s = %.3f ms; want %.3f ms ±0.1%%", c.name, c.got, c.want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count = %d; want 1000", s.Count)
	}
	if empty := Summarize(NewLatency(1).Merge()); empty != (LatencySummary{}) {
		t.Errorf("summary of nothing = %+v; want zero", empty)
	}
}

// Out-of-range durations are clamped, not dropped: a negative latency (a
// clock step) or an absurd one must still be counted.
func TestLatencyClamps(t *testing.T) {
	l := NewLatency(1)
	l.Record(0, -time.Second)
	l.Record(0, time.Hour)
	h := l.Merge()
	if h.TotalCount() != 2 {
		t.Fatalf("count = %d; want 2", h.TotalCount())
	}
	if h.Min() != histMinUS {
		t.Errorf("min = %d µs; want %d", h.Min(), histMinUS)
	}
	if !h.ValuesAreEquivalent(h.Max(), histMaxUS) {
		t.Errorf("max = %d µs; want %d", h.Max(), histMaxUS)
	}
}

func TestReasons(t *testing.T) {
	var r Reasons
	if m := r.Map(); m == nil || len(m) != 0 {
		t.Errorf("empty map = %v; want {}", m)
	}
	r.Add("close 4008")
	r.AddN("eof", 3)
	r.AddN("none", 0)
	if got := r.Total(); got != 4 {
		t.Errorf("total = %d; want 4", got)
	}
	if got := r.String(); got != "eof=3, close 4008=1" {
		t.Errorf("String = %q; want most frequent first", got)
	}
	if _, ok := r.Map()["none"]; ok {
		t.Errorf("AddN(0) created a reason")
	}
}
