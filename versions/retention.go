package versions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skerhq/sker/store"
)

// Sweeper is what Sweep needs of the store beyond Store (store.Store).
type Sweeper interface {
	VersionCanvases(ctx context.Context, cutoff time.Time) ([]string, error)
	DeleteVersions(ctx context.Context, canvasID string, seqs []uint64, kind string) (int64, error)
}

// Thinning with age: automatic points older than a day keep one per hour,
// older than a week one per day. Named and AI versions are not thinned.
// Youngest age last: Sweep reads it as the age from which thinning starts.
var thinning = []struct{ age, every time.Duration }{
	{7 * 24 * time.Hour, 24 * time.Hour},
	{24 * time.Hour, time.Hour},
}

// Sweep deletes the versions older than the retention and thins the
// automatic points by age; it returns how many went. A canvas whose
// versions cannot be listed or deleted is logged with its id and the
// cause and left for the next Sweep, and the others are swept; the error
// returned is the first failure. Every step is idempotent: nodes may sweep
// the same store at the same time.
func (s *Service) Sweep(ctx context.Context, sw Sweeper) (int64, error) {
	now := s.cfg.Now()
	// The youngest version anything could delete: one past the retention,
	// or an automatic point old enough to be thinned.
	ids, err := sw.VersionCanvases(ctx, now.Add(-min(s.cfg.Retention, thinning[len(thinning)-1].age)))
	if err != nil {
		return 0, fmt.Errorf("versions: sweep: %w", err)
	}
	var n int64
	var first error
	for _, id := range ids {
		m, err := s.sweepCanvas(ctx, sw, id, now)
		n += m
		if err != nil {
			if ctx.Err() != nil {
				return n, errors.Join(first, err)
			}
			s.cfg.Logger.Warn("version sweep: canvas skipped", "canvas_id", id, "deleted", m, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	if n > 0 {
		s.cfg.Logger.Info("version sweep", "canvases", len(ids), "deleted", n, "retention", s.cfg.Retention)
	}
	return n, first
}

// sweepCanvas deletes the expired versions of one canvas at now.
func (s *Service) sweepCanvas(ctx context.Context, sw Sweeper, canvasID string, now time.Time) (int64, error) {
	vs, err := s.cfg.Store.ListVersions(ctx, canvasID)
	if err != nil {
		return 0, fmt.Errorf("versions: sweep canvas %s: %w", canvasID, err)
	}
	var n int64
	for kind, seqs := range expired(vs, now, s.cfg.Retention) {
		m, err := sw.DeleteVersions(ctx, canvasID, seqs, kind)
		n += m
		if err != nil {
			return n, fmt.Errorf("versions: sweep canvas %s: delete %s versions: %w", canvasID, kind, err)
		}
	}
	return n, nil
}

// expired picks, by kind, the seqs of vs (in seq order) to delete at now:
// every version older than retention, and the automatic points that fall
// in a thinning slot already held by an older point.
func expired(vs []store.Version, now time.Time, retention time.Duration) map[string][]uint64 {
	out := map[string][]uint64{}
	slots := map[int64]bool{}
	for _, v := range vs {
		age := now.Sub(v.CreatedAt)
		if age > retention {
			out[v.Kind] = append(out[v.Kind], v.Seq)
			continue
		}
		if v.Kind != store.VersionAuto {
			continue
		}
		for _, th := range thinning {
			if age > th.age {
				slot := v.CreatedAt.Truncate(th.every).UnixNano()
				if slots[slot] {
					out[v.Kind] = append(out[v.Kind], v.Seq)
				}
				slots[slot] = true
				break
			}
		}
	}
	return out
}
