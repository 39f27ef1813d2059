package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/journal"
)

// Headers of an event, besides its properties (message_id
// "<canvas>:<seq>", type "changes", timestamp the commit time).
const (
	HeaderCanvas = "sker-canvas" // the canvas id
	HeaderSeq    = "sker-seq"    // the batch's seq on its canvas
)

// EventsAckWait is how long JetStream waits for the bridge to ack a
// journal record before it delivers the record again.
const EventsAckWait = 30 * time.Second

// events is the events-out mapping: the journal's committed batches to the
// events exchange.
type events struct {
	cfg  *Config
	log  *slog.Logger
	st   *stats
	cons jetstream.Consumer
	// last is each canvas's last seq published since the start, to report
	// a gap: batches trimmed from the journal before they were confirmed.
	last map[string]uint64
}

// newEvents creates or updates the durable consumer. Created, it starts at
// the journal's end: the bridge publishes what is committed from then on.
func newEvents(ctx context.Context, cfg *Config, log *slog.Logger) (*events, error) {
	cons, err := cfg.JS.CreateOrUpdateConsumer(ctx, cfg.Names.JournalStream(), jetstream.ConsumerConfig{
		Durable:       cfg.EventsConsumer,
		Description:   "SKER bridge: committed batches to RabbitMQ",
		DeliverPolicy: jetstream.DeliverNewPolicy,
		// Records are acked in order, each once all before it are
		// confirmed: an ack covers every record before it.
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       EventsAckWait,
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxInFlight,
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: events: consumer %s on %s: %w", cfg.EventsConsumer, cfg.Names.JournalStream(), err)
	}
	return &events{cfg: cfg, log: log.With("mapping", MappingEvents), st: newStats(MappingEvents), cons: cons, last: map[string]uint64{}}, nil
}

func (e *events) stats() *stats { return e.st }

// pending is a record published and not yet acked.
type pending struct {
	msg   jetstream.Msg
	seq   uint64 // stream sequence
	confs []*amqp.DeferredConfirmation
}

func (e *events) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: events: open channel: %w", err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("bridge: events: confirm mode: %w", err)
	}
	// Start again from the first record not acked: what the last
	// connection published and did not see confirmed comes again, in
	// order, before anything newer.
	if nc := e.cfg.JS.Conn(); nc != nil {
		_ = nc.Flush() // the acks sent so far reach the server first
	}
	reset, err := e.cfg.JS.ResetConsumer(ctx, e.cfg.Names.JournalStream(), e.cfg.EventsConsumer)
	if err != nil {
		return fmt.Errorf("bridge: events: reset consumer %s: %w", e.cfg.EventsConsumer, err)
	}
	published := reset.ResetSeq - 1 // stream sequences up to it are published in this run
	e.st.started()
	e.st.consuming.Store(true)
	defer e.st.consuming.Store(false)

	window := make(chan *pending, e.cfg.MaxInFlight)
	failed := make(chan error, 1)
	confirmed := make(chan struct{})
	go func() {
		defer close(confirmed)
		e.confirm(ctx, window, failed)
	}()
	err = e.publish(ctx, ch, stop, window, failed, published)
	close(window)
	if err != nil {
		return err
	}
	<-confirmed // drained after Shutdown: every record in flight is confirmed and acked, or the run failed
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}

// publish fetches records in stream order and publishes their batches
// until stop (nil), or a failure (its error).
func (e *events) publish(ctx context.Context, ch *amqp.Channel, stop <-chan struct{}, window chan<- *pending, failed <-chan error, published uint64) error {
	var lagAt time.Time
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		default:
		}
		if time.Since(lagAt) > 2*time.Second {
			e.updateLag(ctx)
			lagAt = time.Now()
		}
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		batch, err := e.cons.Fetch(max(1, cap(window)-len(window)), jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.log.Warn("fetch from the journal", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				cancel()
				return fmt.Errorf("bridge: events: record metadata: %w", err)
			}
			if meta.Sequence.Stream <= published {
				continue // delivered again while in flight; an ack after it covers it
			}
			p, err := e.send(ctx, ch, msg, meta)
			if err != nil {
				cancel()
				return err
			}
			select {
			case window <- p:
			case err := <-failed:
				cancel()
				return err
			case <-ctx.Done():
				cancel()
				return ctx.Err()
			}
			published = p.seq
		}
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoHeartbeat) {
			e.log.Warn("fetch from the journal", "err", err)
		}
	}
}

// send publishes one record's batches, one message each.
func (e *events) send(ctx context.Context, ch *amqp.Channel, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*pending, error) {
	p := &pending{msg: msg, seq: meta.Sequence.Stream}
	e.st.in.Add(1)
	if meta.NumDelivered > 1 {
		e.st.redelivered.Add(1)
	}
	subject := msg.Subject()
	canvasID := subject[strings.LastIndexByte(subject, '.')+1:]
	var rec journal.Record
	if err := json.Unmarshal(msg.Data(), &rec); err != nil {
		e.log.Error("corrupt journal record; skipped", "subject", subject, "stream_seq", p.seq, "err", err)
		return p, nil
	}
	for _, raw := range rec.Batches {
		var head struct {
			Seq uint64 `json:"seq"`
			At  int64  `json:"at"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			e.log.Error("corrupt batch in the journal; skipped", "canvas_id", canvasID, "stream_seq", p.seq, "err", err)
			continue
		}
		e.checkGap(canvasID, head.Seq)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, e.cfg.EventsExchange, "canvas."+canvasID+".changes", false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Type: "changes", AppId: "sker",
			MessageId: canvasID + ":" + strconv.FormatUint(head.Seq, 10), Timestamp: time.UnixMilli(head.At),
			Headers: amqp.Table{HeaderCanvas: canvasID, HeaderSeq: int64(head.Seq)},
			Body:    raw,
		})
		if err != nil {
			return nil, fmt.Errorf("bridge: events: publish: %w", err)
		}
		p.confs = append(p.confs, dc)
	}
	e.st.out.Add(uint64(len(p.confs)))
	return p, nil
}

// checkGap logs a batch that does not follow the canvas's last one: the
// journal was trimmed past batches the bridge had not yet confirmed.
func (e *events) checkGap(canvasID string, seq uint64) {
	if last, ok := e.last[canvasID]; ok && seq > last+1 {
		e.log.Error("batches trimmed from the journal before RabbitMQ confirmed them", "canvas_id", canvasID, "from_seq", last+1, "to_seq", seq-1)
	}
	if len(e.last) >= 100_000 {
		clear(e.last) // bounded memory: gaps go unseen for a while
	}
	e.last[canvasID] = seq
}

// confirm waits for the confirms of each record in order and acks it to
// JetStream. After a failure it acks nothing more: the next run starts
// again from the last record acked.
func (e *events) confirm(ctx context.Context, window <-chan *pending, failed chan<- error) {
	bad := false
	for p := range window {
		if bad {
			continue
		}
		if err := e.wait(ctx, p); err != nil {
			bad = true
			failed <- err
			continue
		}
		if err := p.msg.Ack(); err != nil {
			bad = true
			failed <- fmt.Errorf("bridge: events: ack journal record %d: %w", p.seq, err)
			continue
		}
		e.st.acked.Add(1)
		e.st.moved()
	}
}

func (e *events) wait(ctx context.Context, p *pending) error {
	for _, dc := range p.confs {
		wctx, cancel := context.WithTimeout(ctx, e.cfg.ConfirmTimeout)
		ok, err := dc.WaitContext(wctx)
		cancel()
		if err != nil {
			return fmt.Errorf("bridge: events: confirm of record %d: %w", p.seq, err)
		}
		if !ok {
			return fmt.Errorf("bridge: events: RabbitMQ refused record %d (nack)", p.seq)
		}
	}
	return nil
}

// updateLag records the journal records not yet confirmed: waiting to be
// fetched, or published and not acked.
func (e *events) updateLag(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := e.cons.Info(ictx); err == nil {
		e.st.lag.Store(int64(info.NumPending) + int64(info.NumAckPending))
	}
}
