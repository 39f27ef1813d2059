package app

import "context"

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
	a.versionSweep.start(ctx, every, func(ctx context.Context) {
		if _, err := a.versions.Sweep(ctx, a.store); err != nil && ctx.Err() == nil {
			a.log.Warn("version sweep incomplete", "err", err, "retry_in", every)
		}
	})
}
