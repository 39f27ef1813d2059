package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoStream: the journal stream does not exist (no canvas was ever
// journaled with these names).
var ErrNoStream = errors.New("journal: the journal stream does not exist")

// OpenExisting returns the Journal on an existing stream, without creating
// or changing it (ErrNoStream when there is none): for tools that inspect
// a node's journal and must not alter its configuration.
func OpenExisting(ctx context.Context, js jetstream.JetStream, cfg Config) (*Journal, error) {
	cfg.setDefaults()
	name := cfg.Names.JournalStream()
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoStream, name)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: stream %s: %w", name, err)
	}
	return &Journal{cfg: cfg, js: js, stream: stream}, nil
}

// ScanRecord is one journal record as Scan reads it: its canvas, its
// stream sequence, and the seqs of the batches it holds (none for an
// epoch marker). The ops are not decoded.
type ScanRecord struct {
	Canvas    string
	StreamSeq uint64
	Seqs      []uint64
}

// Scan reads the whole journal as it is when called, in stream order, with
// one consumer, and calls fn for every record; records appended after the
// call are not read. It changes nothing.
func (j *Journal) Scan(ctx context.Context, fn func(ScanRecord) error) error {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	last := info.State.LastSeq
	cons, err := j.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	defer func() {
		_ = j.stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name)
	}()
	prefix := j.Subject("")
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("journal: scan: %w", err)
			}
			rec := ScanRecord{Canvas: strings.TrimPrefix(msg.Subject(), prefix), StreamSeq: meta.Sequence.Stream}
			if rec.Seqs, err = batchSeqs(msg.Data()); err != nil {
				return fmt.Errorf("journal: scan %s at %d: corrupt record: %w", rec.Canvas, rec.StreamSeq, err)
			}
			if err := fn(rec); err != nil {
				return err
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		if n == 0 {
			ci, err := cons.Info(ctx)
			if err != nil {
				return fmt.Errorf("journal: scan: %w", err)
			}
			if ci.NumPending == 0 {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// batchSeqs are the seqs of a record's batches, in order.
func batchSeqs(data []byte) ([]uint64, error) {
	var rec struct {
		Batches []struct {
			Seq uint64 `json:"seq"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(rec.Batches))
	for i, b := range rec.Batches {
		seqs[i] = b.Seq
	}
	return seqs, nil
}
