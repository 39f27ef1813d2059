package app

import (
	"context"
	"sync"
	"time"
)

// periodic runs a job every interval on a goroutine of its own (the
// scheduled backups, the file and version sweeps) until its context ends
// or stop is called. The zero value has nothing running.
type periodic struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc // nil when none runs
}

// start runs job every interval, the first one interval after start; job
// gets a context that ends with ctx or stop.
func (p *periodic) start(ctx context.Context, every time.Duration, job func(context.Context)) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			job(ctx)
		}
	})
}

// stop ends the runs and waits for one in progress.
func (p *periodic) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}
