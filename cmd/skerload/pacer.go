package main

import (
	"context"
	"time"
)

// Pacer schedules sends at a fixed rate, open loop: the k-th send is due at
// start + phase + k/rate whatever happened to the ones before, so a slow
// server or a busy generator cannot quietly lower the offered load (the
// coordinated-omission trap). A sender that falls behind sends what is due
// at once, up to MaxBurst; sends further behind are skipped and counted,
// and the schedule moves on.
type Pacer struct {
	start    time.Time
	interval time.Duration
	next     int64 // index of the next send
	// MaxBurst caps the sends Take returns at once; zero means 10.
	MaxBurst int
}

// NewPacer paces rate sends per second from start+phase. A rate of zero or
// less never sends.
func NewPacer(start time.Time, rate float64, phase time.Duration) *Pacer {
	p := &Pacer{start: start.Add(phase)}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// Due is when the next send is due (the far future when the rate is zero).
func (p *Pacer) Due() time.Time {
	if p.interval <= 0 {
		return p.start.Add(100 * 365 * 24 * time.Hour)
	}
	return p.start.Add(time.Duration(p.next) * p.interval)
}

// Take returns how many sends are due at now (at most MaxBurst) and how
// many older ones it skipped.
func (p *Pacer) Take(now time.Time) (n, skipped int) {
	if p.interval <= 0 || now.Before(p.Due()) {
		return 0, 0
	}
	due := int64(now.Sub(p.start)/p.interval) + 1 // sends with index < due are due
	n = int(due - p.next)
	burst := p.MaxBurst
	if burst <= 0 {
		burst = 10
	}
	if n > burst {
		skipped, n = n-burst, burst
	}
	p.next = due
	return n, skipped
}

// Wait sleeps until the next send is due or ctx ends; false means ctx
// ended.
func (p *Pacer) Wait(ctx context.Context, t *time.Timer) bool {
	d := time.Until(p.Due())
	if d <= 0 {
		return ctx.Err() == nil
	}
	t.Reset(d)
	select {
	case <-ctx.Done():
		t.Stop()
		return false
	case <-t.C:
		return true
	}
}
