package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Sample is one second of a run, for the timeline in the results: a
// server that falls behind shows as acks and deliveries sagging under
// sends.
type Sample struct {
	T           float64 `json:"t"` // seconds since the run started
	Conns       int     `json:"conns"`
	SentPerSec  float64 `json:"sent_per_s"`
	AcksPerSec  float64 `json:"acks_per_s"`
	DelivPerSec float64 `json:"delivered_per_s"`
	Errors      int64   `json:"errors"`
	ServerCores float64 `json:"server_cores,omitempty"`
	ServerRSS   int64   `json:"server_rss_bytes,omitempty"`
	GenCores    float64 `json:"generator_cores"`
}

// startSampler records a Sample every second and prints a progress line:
// on a terminal one line rewritten every second, otherwise a line every
// five seconds (none when e.out is nil).
func startSampler(ctx context.Context, e *env, r *Run) (stop func()) {
	tty := e.out != nil && isTTY(e.out)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		p := sampler{r: r, e: e, start: time.Now(), last: time.Now()}
		p.srv, _ = e.srv.Stats()
		p.self, _ = selfStats()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s := p.sample()
			r.mu.Lock()
			r.Timeline = append(r.Timeline, s)
			r.mu.Unlock()
			switch {
			case e.out == nil:
			case tty:
				fmt.Fprintf(e.out, "\r%s\x1b[K", p.line(s))
			case n%5 == 0:
				fmt.Fprintln(e.out, p.line(s))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if tty {
			fmt.Fprintln(e.out)
		}
	}
}

type sampler struct {
	r                      *Run
	e                      *env
	start, last            time.Time
	sent, acked, delivered int64
	srv, self              ProcStats
	hasSrv                 bool
}

func (p *sampler) sample() Sample {
	now := time.Now()
	dt := now.Sub(p.last).Seconds()
	r := p.r
	sent, acked, delivered := r.C.Sent.Load(), r.C.Acked.Load(), r.C.Delivered.Load()
	s := Sample{
		T:           now.Sub(p.start).Seconds(),
		SentPerSec:  float64(sent-p.sent) / dt,
		AcksPerSec:  float64(acked-p.acked) / dt,
		DelivPerSec: float64(delivered-p.delivered) / dt,
		Errors:      r.Errors.Total(),
	}
	for _, c := range r.allClients() {
		if c.alive() {
			s.Conns++
		}
	}
	if srv, ok := p.e.srv.Stats(); ok {
		s.ServerCores, s.ServerRSS = (srv.CPUSeconds-p.srv.CPUSeconds)/dt, srv.RSSBytes
		p.srv, p.hasSrv = srv, true
	}
	if self, err := selfStats(); err == nil {
		s.GenCores = (self.CPUSeconds - p.self.CPUSeconds) / dt
		p.self = self
	}
	p.last, p.sent, p.acked, p.delivered = now, sent, acked, delivered
	return s
}

func (p *sampler) line(s Sample) string {
	r := p.r
	p99 := "–"
	if h := r.Lat.Merge(); h.TotalCount() > 0 {
		p99 = ms(float64(h.ValueAtQuantile(99))/1000) + " ms"
	}
	line := fmt.Sprintf("%-6s %5.0fs  conns %d  sent %s/s  acks %s/s  delivered %s/s  p99 %s  errors %d  disc. %d",
		r.Name, s.T, s.Conns, num(s.SentPerSec), num(s.AcksPerSec), num(s.DelivPerSec), p99, s.Errors, r.Disc.Total())
	if p.hasSrv {
		line += fmt.Sprintf("  server %.2f cores %s", s.ServerCores, mib(s.ServerRSS))
	}
	line += fmt.Sprintf("  gen. %.2f cores", s.GenCores)
	if e := r.Errors.String(); e != "" {
		line += "  [" + e + "]"
	}
	return line
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
