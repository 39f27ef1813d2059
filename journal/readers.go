package journal

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MaxHoldBack is how far behind, in records of the journal stream not yet
// acked, a durable reader may fall and still hold back the trim: past it
// (a bridge away for a long time) the trim goes on and that reader misses
// the records trimmed.
const MaxHoldBack = 1_000_000

// readerFloorTTL is how long a look at the readers' places is reused: a
// place only moves forward, so an older look trims less, never more.
const readerFloorTTL = time.Second

// readers keeps the last look at the durable readers of the stream.
type readers struct {
	mu    sync.Mutex
	at    time.Time
	floor uint64 // the lowest ack floor, a stream sequence
	any   bool   // a reader holds the trim back
}

// holdBack is where a trim that would keep records from keepFrom must keep
// them from instead, so that no durable consumer of the journal (the
// RabbitMQ bridge's events, say) loses a record it has not acked: at most
// its ack floor + 1. A reader further behind than MaxHoldBack does not
// count.
func (j *Journal) holdBack(ctx context.Context, keepFrom uint64) (uint64, error) {
	r := &j.readers
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) >= readerFloorTTL {
		floor, held := uint64(0), false
		lister := j.stream.ListConsumers(ctx)
		for info := range lister.Info() {
			if info.Config.Durable == "" || info.NumPending+uint64(info.NumAckPending) > MaxHoldBack {
				continue
			}
			if f := info.AckFloor.Stream; !held || f < floor {
				floor, held = f, true
			}
		}
		if err := lister.Err(); err != nil {
			return 0, fmt.Errorf("journal: the places of its readers: %w", err)
		}
		r.at, r.floor, r.any = time.Now(), floor, held
	}
	if r.any && r.floor+1 < keepFrom {
		return r.floor + 1, nil
	}
	return keepFrom, nil
}
