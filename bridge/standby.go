package bridge

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/skerhq/sker/cluster"
)

// claimLease stands by until this node holds the lease key in
// cfg.Leases, or stop (nil, nil) or ctx (nil and its error) ends the wait.
// Meanwhile it records who holds the lease in st, logs each new holder,
// and calls updateLag every 2 s, for Status. The events and the generic
// mappings from a subject each run on the holder of a lease of their own.
func claimLease(ctx context.Context, stop <-chan struct{}, cfg *Config, key string, st *stats, log *slog.Logger, updateLag func(context.Context)) (*cluster.Lease, error) {
	since := time.Now()
	tick := time.NewTicker(cfg.StandbyPoll)
	defer tick.Stop()
	var lagAt time.Time
	logged := "\x00"
	for {
		l, err := cfg.Leases.Claim(ctx, key, cfg.Node)
		if err == nil {
			st.takeovers.Add(1)
			st.lease.Store(&LeaseStatus{Key: key, Held: true, Holder: cfg.Node, Since: time.Now()})
			log.Info("lease taken: publishing from this node", "key", key, "stood_by", time.Since(since).Round(time.Millisecond))
			return l, nil
		}
		holder := ""
		var taken *cluster.TakenError
		if errors.As(err, &taken) {
			holder = taken.Holder
		} else if ctx.Err() == nil {
			log.Warn("claim the lease", "key", key, "err", err)
		}
		st.lease.Store(&LeaseStatus{Key: key, Holder: holder, Since: since})
		if holder != logged {
			log.Info("standing by", "key", key, "holder", holder)
			logged = holder
		}
		if time.Since(lagAt) > 2*time.Second {
			updateLag(ctx)
			lagAt = time.Now()
		}
		select {
		case <-stop:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// releaseLease gives the lease back at once, so that a node standing by
// takes over without waiting for it to lapse (a drain). A lease already
// lapsed or taken over is not this node's to release: ErrLost is expected
// then.
func releaseLease(l *cluster.Lease, st *stats, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.Release(ctx); err != nil && !errors.Is(err, cluster.ErrLost) {
		log.Warn("release the lease; it lapses on its own", "err", err)
	}
	st.lease.Store(&LeaseStatus{Key: l.CanvasID(), Since: time.Now()})
}
