package main

import (
	"context"
	"testing"
	"time"
)

func TestPacerSchedule(t *testing.T) {
	start := time.Unix(1000, 0)
	p := NewPacer(start, 10, 30*time.Millisecond) // due at 30, 130, 230… ms
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		ms, wantN int
		wantDue   int // ms of the next due send afterwards
	}{
		{0, 0, 30},      // before the first
		{29, 0, 30},     //
		{30, 1, 130},    // exactly due
		{31, 0, 130},    // already sent
		{260, 2, 330},   // late: the two due sends (130, 230) at once
		{1030, 8, 1130}, // 330…1030: eight due
	}
	total := 0
	for _, s := range steps {
		n, skipped := p.Take(at(s.ms))
		if n != s.wantN || skipped != 0 {
			t.Errorf("Take at %d ms = %d, %d skipped; want %d, 0", s.ms, n, skipped, s.wantN)
		}
		if got := p.Due(); !got.Equal(at(s.wantDue)) {
			t.Errorf("after %d ms Due = %v ms; want %d ms", s.ms, got.Sub(start).Milliseconds(), s.wantDue)
		}
		total += n
	}
	// Open loop: after 1.03 s at 10/s from 30 ms, eleven sends, whatever the
	// timing of the calls.
	if total != 11 {
		t.Errorf("sends = %d; want 11", total)
	}
}

// A sender far behind sends at most MaxBurst at once and skips the rest,
// counting them; the schedule then continues from now, not from the past.
func TestPacerSkipsBeyondBurst(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(start, 100, 0)
	p.MaxBurst = 5
	n, skipped := p.Take(start.Add(995 * time.Millisecond)) // sends 0…99 due
	if n != 5 || skipped != 95 {
		t.Errorf("Take = %d, %d skipped; want 5, 95", n, skipped)
	}
	if got := p.Due().Sub(start); got != time.Second {
		t.Errorf("next due at %v; want 1s", got)
	}
}

func TestPacerZeroRateNeverSends(t *testing.T) {
	p := NewPacer(time.Unix(0, 0), 0, 0)
	if n, _ := p.Take(time.Unix(1e6, 0)); n != 0 {
		t.Errorf("Take = %d; want 0", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if p.Wait(ctx, time.NewTimer(time.Hour)) {
		t.Errorf("Wait returned true for a pacer that never sends")
	}
}

// Real time: a pacer at 200/s over 300 ms sends about 60 times (the first
// at once), neither bunching nor drifting.
func TestPacerRealTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p := NewPacer(time.Now(), 200, 0)
	timer := time.NewTimer(time.Hour)
	sent := 0
	for p.Wait(ctx, timer) {
		n, _ := p.Take(time.Now())
		sent += n
	}
	if sent < 50 || sent > 62 {
		t.Errorf("sent %d in 300 ms at 200/s; want about 60", sent)
	}
}
