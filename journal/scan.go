package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LastSeqs reads the whole journal as it is when called and returns, for
// every canvas with records in it, the seq of the last batch those records
// hold (0 when they hold only epoch markers). Every batch ever
// acknowledged is in the journal until a checkpoint covers it, so a
// canvas whose stored checkpoint is below its seq here has acknowledged
// changes that only the journal holds.
//
// It reads the stream once, with one consumer, in stream order; records
// appended after the call are not read.
func (j *Journal) LastSeqs(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	info, err := j.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("journal: scan: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return out, nil
	}
	cons, err := j.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: scan: %w", err)
	}
	defer func() {
		_ = j.stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name)
	}()
	prefix := j.Subject("")
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("journal: scan: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("journal: scan: %w", err)
			}
			id := strings.TrimPrefix(msg.Subject(), prefix)
			seq, err := lastBatchSeq(msg.Data())
			if err != nil {
				return nil, fmt.Errorf("journal: scan %s at %d: corrupt record: %w", id, meta.Sequence.Stream, err)
			}
			out[id] = max(out[id], seq)
			// The stream's last record may go while this runs (its canvas
			// deleted): nothing pending means the end too.
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("journal: scan: %w", err)
		}
		if n == 0 {
			ci, err := cons.Info(ctx)
			if err != nil {
				return nil, fmt.Errorf("journal: scan: %w", err)
			}
			if ci.NumPending == 0 {
				return out, nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// lastBatchSeq is the seq of the last batch of a record, 0 for an epoch
// marker. Only the seqs are decoded, not the ops.
func lastBatchSeq(data []byte) (uint64, error) {
	var rec struct {
		Batches []struct {
			Seq uint64 `json:"seq"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return 0, err
	}
	var seq uint64
	for _, b := range rec.Batches {
		seq = max(seq, b.Seq)
	}
	return seq, nil
}
