package versions

import (
	"context"
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
var thinning = []struct{ age, every time.Duration }{
	{7 * 24 * time.Hour, 24 * time.Hour},
	{24 * time.Hour, time.Hour},
}

// Sweep deletes the versions older than the retention and thins the
// automatic points by age; it returns how many went.
func (s *Service) Sweep(ctx context.Context, sw Sweeper) (int64, error) {
	now := s.cfg.Now()
	ids, err := sw.VersionCanvases(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range ids {
		vs, err := s.cfg.Store.ListVersions(ctx, id)
		if err != nil {
			return n, err
		}
		drop := map[string][]uint64{}
		for kind, seqs := range expired(vs, now, s.cfg.Retention) {
			drop[kind] = append(drop[kind], seqs...)
		}
		for kind, seqs := range drop {
			m, err := sw.DeleteVersions(ctx, id, seqs, kind)
			n += m
			if err != nil {
				return n, err
			}
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
