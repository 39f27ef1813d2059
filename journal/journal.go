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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/canvas"
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
	Stream  string // stream name; default "SKER_JOURNAL"
	Prefix  string // subject prefix; default "sker.journal" (subjects prefix.<canvas id>)
	Replica int    // replicas; default 1 (3 on a NATS cluster protects against losing a node)
	// DuplicateWindow is how long message ids are remembered; default 2m.
	DuplicateWindow time.Duration
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = "SKER_JOURNAL"
	}
	if c.Prefix == "" {
		c.Prefix = "sker.journal"
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
	cfg    Config
	js     jetstream.JetStream
	stream jetstream.Stream
	// Appends are published on the connection directly (see Append), with
	// the JetStream context's timeout when the caller sets none.
	nc      *nats.Conn
	timeout time.Duration
}

// Open creates or updates the journal stream and returns the Journal.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Journal, error) {
	cfg.setDefaults()
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "SKER canvas journal: one subject per canvas",
		Subjects:    []string{cfg.Prefix + ".*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    cfg.Replica,
		Duplicates:  cfg.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: create stream %s: %w", cfg.Stream, err)
	}
	return &Journal{cfg: cfg, js: js, stream: stream, nc: js.Conn(), timeout: js.Options().DefaultTimeout}, nil
}

// Subject is the journal subject of a canvas.
func (j *Journal) Subject(canvasID string) string { return j.cfg.Prefix + "." + canvasID }

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
	seq, err := j.publish(ctx, canvasID, expectLast, msgID, rec)
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
	return seq, nil
}

// publish is jetstream's Publish with the options WithMsgID,
// WithExpectLastSequencePerSubject and WithRetryAttempts(0), with the same
// headers on the wire and the same errors, for a fraction of the
// allocations: it runs for every journal append. The headers are set
// directly rather than through options, and the server's usual
// acknowledgement is read without encoding/json.
func (j *Journal) publish(ctx context.Context, canvasID string, expectLast uint64, msgID string, rec []byte) (uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.timeout)
		defer cancel()
	}
	vals := []string{msgID, strconv.FormatUint(expectLast, 10)}
	msg := &nats.Msg{Subject: j.Subject(canvasID), Data: rec, Header: nats.Header{
		jetstream.MsgIDHeader:               vals[0:1:1],
		jetstream.ExpectedLastSubjSeqHeader: vals[1:2:2],
	}}
	resp, err := j.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return 0, jetstream.ErrNoStreamResponse
		}
		return 0, err
	}
	return pubAckSeq(resp.Data)
}

// pubAckSeq returns the stream sequence of a publish acknowledgement, or
// its error, as jetstream's Publish does.
func pubAckSeq(data []byte) (uint64, error) {
	if seq, ok := plainPubAck(data); ok {
		return seq, nil
	}
	var resp struct {
		*jetstream.PubAck
		Error *jetstream.APIError `json:"error,omitempty"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return 0, jetstream.ErrInvalidJSAck
	}
	if resp.Error != nil {
		return 0, fmt.Errorf("nats: %w", resp.Error)
	}
	if resp.PubAck == nil || resp.Stream == "" {
		return 0, jetstream.ErrInvalidJSAck
	}
	return resp.Sequence, nil
}

// plainPubAck reads the acknowledgement of a stored message in the one form
// the server writes it, {"stream":"NAME","seq":N}. Anything else (an error,
// a duplicate, a domain) is reported not ok and left to encoding/json.
func plainPubAck(data []byte) (uint64, bool) {
	const head, mid = `{"stream":"`, `","seq":`
	rest, ok := bytes.CutPrefix(data, []byte(head))
	if !ok {
		return 0, false
	}
	name, rest, ok := bytes.Cut(rest, []byte(mid))
	if !ok || len(name) == 0 || bytes.ContainsAny(name, "\\\"") {
		return 0, false
	}
	digits, ok := bytes.CutSuffix(rest, []byte("}"))
	if !ok || len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var seq uint64
	for _, c := range digits {
		if c < '0' || c > '9' || seq > (math.MaxUint64-9)/10 {
			return 0, false
		}
		seq = seq*10 + uint64(c-'0')
	}
	return seq, true
}

// Last returns the stream sequence of the canvas's last record, 0 when it
// has none.
func (j *Journal) Last(ctx context.Context, canvasID string) (uint64, error) {
	msg, err := j.stream.GetLastMsgForSubject(ctx, j.Subject(canvasID))
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
	cons, err := j.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     j.Subject(canvasID),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
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
		if err := batch.Error(); err != nil {
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

// Trim removes the canvas's records with a stream sequence below keepFrom.
// The caller passes a sequence no higher than the first record that its
// durable checkpoint does not cover.
func (j *Journal) Trim(ctx context.Context, canvasID string, keepFrom uint64) error {
	if keepFrom <= 1 {
		return nil
	}
	err := j.stream.Purge(ctx, jetstream.WithPurgeSubject(j.Subject(canvasID)), jetstream.WithPurgeSequence(keepFrom))
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
