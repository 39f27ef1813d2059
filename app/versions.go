package app

import (
	"context"
	"sync"
	"time"
)

// versionSweep runs the retention sweep of the canvases' history
// (versions.Service.Sweep) every VERSION_SWEEP_INTERVAL.
type versionSweep struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc // nil when none runs
}

// startVersionSweep deletes the versions older than VERSION_RETENTION,
// and thins the old automatic points, every VERSION_SWEEP_INTERVAL until
// ctx ends or Shutdown stops it. Every node sweeps, as every node with a
// file store sweeps its files: the deletes are idempotent, so nodes that
// sweep the same store at once delete nothing twice, and no node has to
// be the one that does. A failed sweep is logged (the canvas and the
// cause by Sweep, this line for the sweep) and the next interval tries
// again.
func (a *App) startVersionSweep(ctx context.Context) {
	every := a.cfg.VersionSweepInterval
	if a.versions == nil || every <= 0 {
		return
	}
	ctx, a.versionSweep.cancel = context.WithCancel(ctx)
	a.versionSweep.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := a.versions.Sweep(ctx, a.store); err != nil && ctx.Err() == nil {
				a.log.Warn("version sweep incomplete", "err", err, "retry_in", every)
			}
		}
	})
}

// stop ends the version sweep and waits for it.
func (s *versionSweep) stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}
