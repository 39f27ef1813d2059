package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// clusterFormTimeout bounds how long a clustered node waits at start for
// its NATS cluster to elect a JetStream leader and for enough nodes to
// hold the configured replicas.
const clusterFormTimeout = 2 * time.Minute

// whenFormed runs open, which creates or updates a stream, until it
// succeeds. A single node runs it once. A clustered node retries while the
// cluster forms: until a meta leader is elected and JOURNAL_REPLICAS nodes
// have joined, stream requests time out or find too few peers, and nodes
// of a cluster start in any order. An error open marks final (a wrong
// setting, which no waiting mends) ends it at once.
func (a *App) whenFormed(ctx context.Context, what string, open func(context.Context) error) error {
	if !a.cfg.Clustered() {
		return open(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterFormTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		try, stop := context.WithTimeout(ctx, 5*time.Second)
		err := open(try)
		stop()
		if err == nil {
			return nil
		}
		var f finalError
		if errors.As(err, &f) {
			return f.error
		}
		if ctx.Err() != nil {
			return fmt.Errorf("app: %s: the NATS cluster did not form within %v (NATS_CLUSTER_ROUTES, JOURNAL_REPLICAS): %w", what, clusterFormTimeout, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			a.log.Info("waiting for the NATS cluster to form", "stream", what, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// finalError marks an error of a whenFormed open as one to return at once.
type finalError struct{ error }

func (e finalError) Unwrap() error { return e.error }
