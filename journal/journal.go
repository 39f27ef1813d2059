// Package journal is the durable, fenced log of every canvas's committed
// changes, on a JetStream stream with one subject per canvas.
//
// Every append is fenced with the expected last sequence of the canvas's
// subject (JetStream's Nats-Expected-Last-Subject-Sequence) and carries a
// message id for deduplication, so that a stale owner's append fails with
// ErrFenced and a retried append is never stored twice. The journal is
// trimmed only up to a checkpoint that the caller has made durable.
package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/natsname"
)

// Errors of Append.
var (
	// ErrFenced: the subject's last sequence is not the expected one: another
	// owner appended meanwhile. The caller must stop writing this canvas.
	ErrFenced = errors.New("journal: fenced: another writer appended to this canvas")
	// ErrTooLarge: the record is over the stream's message size limit.
	ErrTooLarge = errors.New("journal: record too large")
)

// Config describes the stream. Zero fields take the documented defaults.
type Config struct {
	// Names gives the stream (Names.JournalStream) and the subject of each
	// canvas (Names.Journal); zero means natsname.Default().
	Names   natsname.Names
	Replica int // replicas; default 1 (3 on a NATS cluster protects against losing a node)
	// DuplicateWindow is how long message ids are remembered; default 2m.
	DuplicateWindow time.Duration
}

func (c *Config) setDefaults() {
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
	if c.Replica <= 0 {
		c.Replica = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
}

// Journal appends and reads canvas records.
type Journal struct {
	cfg     Config
	js      jetstream.JetStream
	stream  jetstream.Stream
	readers readers
}

// Open creates or updates the journal stream and returns the Journal.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Journal, error) {
	cfg.setDefaults()
	name := cfg.Names.JournalStream()
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "SKER canvas journal: one subject per canvas",
		Subjects:    []string{cfg.Names.JournalSubjects()},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    cfg.Replica,
		Duplicates:  cfg.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: create stream %s: %w", name, err)
	}
	return &Journal{cfg: cfg, js: js, stream: stream}, nil
}

// Subject is the journal subject of a canvas.
func (j *Journal) Subject(canvasID string) string { return j.cfg.Names.Journal(canvasID) }

// Record is one journal message: an owner's epoch marker (no batches) or a
// group of batches committed together.
type Record struct {
	Epoch   string            `json:"epoch"`
	Batches []json.RawMessage `json:"batches,omitempty"` // each an encoded Committed
}

// Committed is one batch as journaled and as fanned out to clients.
type Committed struct {
	Seq           uint64      `json:"seq"`
	Author        string      `json:"author"`
	At            int64       `json:"at"`
	ClientBatchID string      `json:"cbid,omitempty"`
	Ops           []canvas.Op `json:"ops"`
}

// Batch returns the batch to apply.
func (c *Committed) Batch() canvas.Batch {
	return canvas.Batch{Author: c.Author, At: c.At, Ops: c.Ops}
}

// Append stores rec on the canvas's subject if its last stream sequence is
// expectLast (0: the subject is empty) and returns the new stream sequence.
// msgID makes a retry of the same append idempotent within the duplicate
// window. ErrFenced means another writer appended; other errors (timeouts)
// leave the outcome unknown, and the caller retries with the same msgID.
func (j *Journal) Append(ctx context.Context, canvasID string, expectLast uint64, msgID string, rec []byte) (uint64, error) {
	ack, err := j.js.Publish(ctx, j.Subject(canvasID), rec,
		jetstream.WithExpectLastSequencePerSubject(expectLast),
		jetstream.WithMsgID(msgID),
		jetstream.WithRetryAttempts(0))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode {
			case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
				return 0, fmt.Errorf("%w (%s)", ErrFenced, apiErr.Description)
			case jetstream.JSErrCodeStreamMessageExceedsMaximum:
				return 0, ErrTooLarge
			}
		}
		return 0, fmt.Errorf("journal: append %s: %w", canvasID, err)
	}
	return ack.Sequence, nil
}

// Last returns the stream sequence of the canvas's last record, 0 when it
// has none.
func (j *Journal) Last(ctx context.Context, canvasID string) (uint64, error) {
	var msg *jetstream.RawStreamMsg
	err := attempts(ctx, func(ctx context.Context) (err error) {
		msg, err = j.stream.GetLastMsgForSubject(ctx, j.Subject(canvasID))
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal: last %s: %w", canvasID, err)
	}
	return msg.Sequence, nil
}

// Read calls fn for every retained record of the canvas up to its current
// last record, in order, and returns the last stream sequence read.
func (j *Journal) Read(ctx context.Context, canvasID string, fn func(streamSeq uint64, rec Record) error) (uint64, error) {
	last, err := j.Last(ctx, canvasID)
	if err != nil || last == 0 {
		return 0, err
	}
	var cons jetstream.Consumer
	err = attempts(ctx, func(ctx context.Context) (err error) {
		cons, err = j.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
			FilterSubject:     j.Subject(canvasID),
			DeliverPolicy:     jetstream.DeliverAllPolicy,
			AckPolicy:         jetstream.AckNonePolicy,
			InactiveThreshold: time.Minute,
			MemoryStorage:     true,
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("journal: read %s: %w", canvasID, err)
	}
	defer func() {
		// Best effort: an ephemeral consumer left behind expires on its own.
		_ = j.stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name)
	}()
	for {
		batch, err := cons.FetchNoWait(256)
		if errors.Is(err, nats.ErrNoResponders) {
			err = waitForInterest(ctx)
		}
		if err != nil {
			return 0, fmt.Errorf("journal: read %s: %w", canvasID, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return 0, fmt.Errorf("journal: read %s: %w", canvasID, err)
			}
			var rec Record
			if err := json.Unmarshal(msg.Data(), &rec); err != nil {
				return 0, fmt.Errorf("journal: read %s at %d: corrupt record: %w", canvasID, meta.Sequence.Stream, err)
			}
			if err := fn(meta.Sequence.Stream, rec); err != nil {
				return 0, err
			}
			if meta.Sequence.Stream >= last {
				return last, nil
			}
		}
		if err := batch.Error(); errors.Is(err, nats.ErrNoResponders) {
			if err := waitForInterest(ctx); err != nil {
				return 0, fmt.Errorf("journal: read %s: %w", canvasID, err)
			}
			continue
		} else if err != nil {
			return 0, fmt.Errorf("journal: read %s: %w", canvasID, err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// attemptTimeout bounds one request of a read to the JetStream API. On a
// cluster, a request sent while the stream or the metadata leader is being
// elected again (its server died) is never answered; a fresh request
// after the election is. So a read tries again every attemptTimeout,
// until its ctx ends, instead of waiting out ctx on one request.
const attemptTimeout = 2 * time.Second

// Unanswered reports whether err is that of a JetStream request that got
// no answer (its own timeout, or no server took it): sent again, it may
// be answered once the cluster has elected the leader it needs. An append
// so unanswered may have landed; sent again with the same message id, it
// is answered with the first one's sequence.
func Unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout)
}

// attempts runs fn, each time with at most attemptTimeout, until it
// succeeds, fails other than by its own timeout or a server that takes
// no requests, or ctx ends.
func attempts(ctx context.Context, fn func(context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(try)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !Unanswered(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForInterest pauses a read whose fetch found no responders: on a
// cluster, the consumer just created may live on another server, and this
// server learns of its subscription a moment later (a node that joined
// the cluster recently sees this most). The read goes on until ctx ends.
func waitForInterest(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("the consumer's server never answered: %w", ctx.Err())
	case <-time.After(20 * time.Millisecond):
		return nil
	}
}

// Trim removes the canvas's records with a stream sequence below keepFrom,
// but none that a durable consumer of the journal has not acked (see
// holdBack). The caller passes a sequence no higher than the first record
// that its durable checkpoint does not cover.
func (j *Journal) Trim(ctx context.Context, canvasID string, keepFrom uint64) error {
	if keepFrom <= 1 {
		return nil
	}
	keepFrom, err := j.holdBack(ctx, keepFrom)
	if err != nil {
		return fmt.Errorf("journal: trim %s: %w", canvasID, err)
	}
	if keepFrom <= 1 {
		return nil
	}
	err = j.stream.Purge(ctx, jetstream.WithPurgeSubject(j.Subject(canvasID)), jetstream.WithPurgeSequence(keepFrom))
	if err != nil {
		return fmt.Errorf("journal: trim %s below %d: %w", canvasID, keepFrom, err)
	}
	return nil
}

// Delete removes every record of a deleted canvas.
func (j *Journal) Delete(ctx context.Context, canvasID string) error {
	if err := j.stream.Purge(ctx, jetstream.WithPurgeSubject(j.Subject(canvasID))); err != nil {
		return fmt.Errorf("journal: delete %s: %w", canvasID, err)
	}
	return nil
}

// Placement reports which server leads the journal stream and how many
// copies it keeps; leader is empty on a server that is not clustered.
func (j *Journal) Placement(ctx context.Context) (leader string, replicas int, err error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("journal: stream info: %w", err)
	}
	if info.Cluster != nil {
		leader = info.Cluster.Leader
	}
	return leader, info.Config.Replicas, nil
}
