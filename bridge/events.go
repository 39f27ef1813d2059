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

	"github.com/skerhq/sker/cluster"
	"github.com/skerhq/sker/journal"
)

// Headers of an event, besides its properties (message_id
// "<canvas>:<seq>", type "changes", timestamp the commit time; an AI
// event's "<canvas>:<seq>:ai", type "ai"; a member event's
// "<canvas>:members:<id>", type "members", with HeaderCanvas alone).
const (
	HeaderCanvas = "sker-canvas" // the canvas id
	HeaderSeq    = "sker-seq"    // the batch's seq on its canvas
)

// EventsAckWait is how long JetStream waits for the bridge to ack a
// journal record before it delivers the record again.
const EventsAckWait = 30 * time.Second

// events is the events-out mapping: the journal's committed batches (and
// the AI results they write) and the members stream's membership changes
// to the events exchange.
type events struct {
	cfg   *Config
	log   *slog.Logger
	st    *stats
	feeds []*feed // the journal's first
	// last is each canvas's last seq published since the start, to report
	// a gap: batches trimmed from the journal before they were confirmed.
	last map[string]uint64
}

// feed is one durable consumer that the events mapping publishes from,
// in its stream's order, acking each record once RabbitMQ confirmed its
// messages.
type feed struct {
	stream, consumer string
	cons             jetstream.Consumer
	// send publishes one record's messages.
	send func(ctx context.Context, ch *amqp.Channel, lease *cluster.Lease, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*pending, error)
}

// newEvents creates or updates the durable consumers, and the members
// stream. Created, a consumer starts at its stream's end (by start
// sequence, so that an operator can reset it to publish again from an
// earlier record): the bridge publishes what is committed from then on.
func newEvents(ctx context.Context, cfg *Config, log *slog.Logger) (*events, error) {
	e := &events{cfg: cfg, log: log.With("mapping", MappingEvents), st: newStats(MappingEvents), last: map[string]uint64{}}
	if err := ensureMembersStream(ctx, cfg.JS, cfg.Names, cfg.Replicas); err != nil {
		return nil, err
	}
	for _, f := range []*feed{
		{stream: cfg.Names.JournalStream(), consumer: cfg.EventsConsumer, send: e.send},
		{stream: cfg.Names.MembersStream(), consumer: MembersConsumer(cfg.EventsConsumer), send: e.sendMember},
	} {
		cons, err := durableFrom(ctx, cfg.JS, f.stream, jetstream.ConsumerConfig{
			Durable:     f.consumer,
			Description: "SKER bridge: events to RabbitMQ",
			// Records are acked in order, each once all before it are
			// confirmed: an ack covers every record before it.
			AckPolicy:     jetstream.AckAllPolicy,
			AckWait:       EventsAckWait,
			MaxDeliver:    -1,
			MaxAckPending: cfg.MaxInFlight,
		})
		if err != nil {
			return nil, fmt.Errorf("bridge: events: consumer %s on %s: %w", f.consumer, f.stream, err)
		}
		f.cons = cons
		e.feeds = append(e.feeds, f)
	}
	return e, nil
}

func (e *events) stats() *stats { return e.st }

// pending is a record published and not yet acked.
type pending struct {
	msg   jetstream.Msg
	seq   uint64 // stream sequence
	confs []*amqp.DeferredConfirmation
	dead  int // of confs, the dead letters
}

// EventsLeaseKey is the key of the events lease in the lease bucket, one
// per durable consumer: nodes sharing a consumer publish one at a time,
// and bridges on consumers of their own do not wait for each other. It
// cannot be a canvas's key: those are UUIDs.
func EventsLeaseKey(consumer string) string { return "bridge-events." + consumer }

// errLeaseEnded: the events lease stopped being valid while publishing.
var errLeaseEnded = errors.New("bridge: events: the events lease is no longer valid")

// run publishes on conn: at once on a node alone; on a cluster, only while
// this node holds the events lease, standing by until it can claim it.
// A lease that ends while publishing stops the publishing at once and
// this node stands by again, on the same connection.
func (e *events) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	if e.cfg.Leases == nil {
		return e.runOn(ctx, conn, stop, nil)
	}
	defer e.st.lease.Store(nil)
	for {
		l, err := claimLease(ctx, stop, e.cfg, EventsLeaseKey(e.cfg.EventsConsumer), e.st, e.log, e.updateLag)
		if l == nil {
			return err // stop, or ctx ended
		}
		err = e.runOn(ctx, conn, stop, l)
		releaseLease(l, e.st, e.log)
		if !errors.Is(err, errLeaseEnded) {
			return err
		}
		e.log.Warn("events lease no longer valid: publishing stopped; standing by", "why", l.Err())
	}
}

// runOn publishes every feed, each on a channel of conn of its own, until
// stop (each waits for the confirms in flight and it returns nil), a
// failure of one (its error), or the end of lease (errLeaseEnded; nil
// lease: a node alone, no lease).
func (e *events) runOn(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}, lease *cluster.Lease) error {
	// Start again from the first record not acked: what the last
	// connection (or the last holder of the lease) published and did not
	// see confirmed comes again, in order, before anything newer.
	if nc := e.cfg.JS.Conn(); nc != nil {
		_ = nc.Flush() // the acks sent so far reach the server first
	}
	type start struct {
		f         *feed
		ch        *amqp.Channel
		published uint64 // stream sequences up to it are published in this run
	}
	starts := make([]start, 0, len(e.feeds))
	for _, f := range e.feeds {
		ch, err := confirmChannel(conn, "events")
		if err != nil {
			return err
		}
		defer ch.Close()
		reset, err := e.reset(ctx, stop, lease, f)
		if err != nil || reset == nil {
			return err // nil: stopped before it could start
		}
		starts = append(starts, start{f, ch, reset.ResetSeq - 1})
	}
	clear(e.last) // another holder may have published meanwhile
	e.st.started()
	e.st.consuming.Store(true)
	defer e.st.consuming.Store(false)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(starts))
	for _, s := range starts {
		go func() { errc <- e.runFeed(fctx, s.ch, stop, lease, s.f, s.published) }()
	}
	var first error
	for range starts {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel() // the other feeds stop too; the next run starts them again
		}
	}
	return first
}

// runFeed publishes f's records on ch from after published, as runOn.
func (e *events) runFeed(ctx context.Context, ch *amqp.Channel, stop <-chan struct{}, lease *cluster.Lease, f *feed, published uint64) error {
	window := make(chan *pending, e.cfg.MaxInFlight)
	failed := make(chan error, 1)
	confirmed := make(chan struct{})
	go func() {
		defer close(confirmed)
		e.confirm(ctx, window, failed)
	}()
	err := e.publish(ctx, ch, stop, lease, f, window, failed, published)
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

// resetTry bounds one try to reset the consumer: a consumer whose leader
// died answers once JetStream has elected another, within seconds.
const resetTry = 2 * time.Second

// reset puts the consumer back to its first record not acked, trying
// again while JetStream does not answer (its leader was on a node that
// died: the usual case right after a take-over) instead of dropping the
// RabbitMQ connection, which is not at fault. It returns nil, nil on stop, and
// errLeaseEnded when the lease ends meanwhile.
func (e *events) reset(ctx context.Context, stop <-chan struct{}, lease *cluster.Lease, f *feed) (*jetstream.ConsumerResetResponse, error) {
	var leaseDone <-chan struct{}
	if lease != nil {
		leaseDone = lease.Done()
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, resetTry)
		reset, err := e.cfg.JS.ResetConsumer(rctx, f.stream, f.consumer)
		cancel()
		if err == nil {
			return reset, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e.log.Warn("reset the events consumer; trying again", "consumer", f.consumer, "err", err)
		select {
		case <-stop:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-leaseDone:
			return nil, errLeaseEnded
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publish fetches f's records in stream order and publishes them until
// stop (nil), or a failure (its error).
func (e *events) publish(ctx context.Context, ch *amqp.Channel, stop <-chan struct{}, lease *cluster.Lease, f *feed, window chan<- *pending, failed <-chan error, published uint64) error {
	var lagAt time.Time
	var leaseDone <-chan struct{} // nil without a lease: never ready
	if lease != nil {
		leaseDone = lease.Done()
	}
	// A fetch waits up to a second for records: stop and the end of the
	// lease cut it short, so that a drain hands over without that wait.
	wake, cancelWake := context.WithCancel(ctx)
	defer cancelWake()
	go func() {
		select {
		case <-stop:
		case <-leaseDone:
		case <-wake.Done():
		}
		cancelWake()
	}()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-leaseDone:
			return errLeaseEnded
		default:
		}
		if f == e.feeds[0] && time.Since(lagAt) > 2*time.Second {
			e.updateLag(ctx)
			lagAt = time.Now()
		}
		fctx, cancel := context.WithTimeout(wake, time.Second)
		batch, err := f.cons.Fetch(max(1, cap(window)-len(window)), jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wake.Err() != nil {
				continue // stop or the lease's end: the select above says which
			}
			e.log.Warn("fetch from the stream", "stream", f.stream, "err", err)
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
			p, err := f.send(ctx, ch, lease, msg, meta)
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
			case <-leaseDone:
				cancel()
				return errLeaseEnded
			}
			published = p.seq
		}
		cancel()
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoHeartbeat) {
			e.log.Warn("fetch from the stream", "stream", f.stream, "err", err)
		}
	}
}

// send publishes one journal record's batches, one message each, each
// followed by the AI events it holds (see aiEvents). With a lease, it
// checks before each message that the lease is still valid: the holder
// fences itself, as the canvas actors do, before the server could expire
// the lease and another node take over.
func (e *events) send(ctx context.Context, ch *amqp.Channel, lease *cluster.Lease, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*pending, error) {
	p, canvasID := e.take(msg, meta)
	var rec journal.Record
	if err := json.Unmarshal(msg.Data(), &rec); err != nil {
		return p, e.deadLetter(ctx, ch, lease, p, msg, meta, "", msg.Data(), "corrupt journal record: "+err.Error())
	}
	for i, raw := range rec.Batches {
		var head struct {
			Seq uint64 `json:"seq"`
			At  int64  `json:"at"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			if err := e.deadLetter(ctx, ch, lease, p, msg, meta, ":"+strconv.Itoa(i), raw, "corrupt batch in the journal: "+err.Error()); err != nil {
				return nil, err
			}
			continue
		}
		if lease != nil && !lease.Valid() {
			return nil, errLeaseEnded
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
		for _, ev := range aiEvents(canvasID, raw) {
			if lease != nil && !lease.Valid() {
				return nil, errLeaseEnded
			}
			body, _ := json.Marshal(ev)
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, e.cfg.EventsExchange, "canvas."+canvasID+".ai", false, false, amqp.Publishing{
				ContentType: "application/json", DeliveryMode: amqp.Persistent, Type: "ai", AppId: "sker",
				MessageId: AIMessageID(canvasID, head.Seq), Timestamp: time.UnixMilli(head.At),
				Headers: amqp.Table{HeaderCanvas: canvasID, HeaderSeq: int64(head.Seq)},
				Body:    body,
			})
			if err != nil {
				return nil, fmt.Errorf("bridge: events: publish: %w", err)
			}
			p.confs = append(p.confs, dc)
		}
	}
	e.st.out.Add(uint64(len(p.confs) - p.dead))
	return p, nil
}

// deadLetter publishes body, a record (or, with part ":<index>", one batch
// of a record) that cannot be read, to the events dead-letter queue with
// the reason, the mapping, the subject and the stream sequence in its
// headers; message_id "<stream>:<stream seq><part>". The record is acked
// once RabbitMQ confirmed it, as a published one is: it is never read
// again, and what follows it flows.
func (e *events) deadLetter(ctx context.Context, ch *amqp.Channel, lease *cluster.Lease, p *pending, msg jetstream.Msg, meta *jetstream.MsgMetadata, part string, body []byte, reason string) error {
	if lease != nil && !lease.Valid() {
		return errLeaseEnded
	}
	e.log.Error("record dead-lettered", "queue", e.cfg.EventsDeadLetterQueue, "subject", msg.Subject(), "stream_seq", p.seq, "reason", reason)
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", e.cfg.EventsDeadLetterQueue, false, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, AppId: "sker",
		MessageId: meta.Stream + ":" + strconv.FormatUint(p.seq, 10) + part, Timestamp: meta.Timestamp,
		Headers: amqp.Table{HeaderReason: reason, HeaderMapping: MappingEvents, HeaderSubject: msg.Subject(), HeaderStreamSeq: int64(p.seq)},
		Body:    body,
	})
	if err != nil {
		return fmt.Errorf("bridge: events: dead-letter: %w", err)
	}
	p.confs = append(p.confs, dc)
	p.dead++
	return nil
}

// take counts a record taken from a feed and names its canvas: the last
// token of its subject.
func (e *events) take(msg jetstream.Msg, meta *jetstream.MsgMetadata) (*pending, string) {
	e.st.in.Add(1)
	if meta.NumDelivered > 1 {
		e.st.redelivered.Add(1)
	}
	subject := msg.Subject()
	return &pending{msg: msg, seq: meta.Sequence.Stream}, subject[strings.LastIndexByte(subject, '.')+1:]
}

// sendMember publishes one record of the members stream, as send does a
// journal record's.
func (e *events) sendMember(ctx context.Context, ch *amqp.Channel, lease *cluster.Lease, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*pending, error) {
	p, canvasID := e.take(msg, meta)
	ev, err := decodeMemberEvent(canvasID, msg.Data())
	if err != nil {
		return p, e.deadLetter(ctx, ch, lease, p, msg, meta, "", msg.Data(), "corrupt membership change: "+err.Error())
	}
	if lease != nil && !lease.Valid() {
		return nil, errLeaseEnded
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, e.cfg.EventsExchange, "canvas."+canvasID+".members", false, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, Type: "members", AppId: "sker",
		MessageId: MemberMessageID(ev), Timestamp: time.UnixMilli(ev.At),
		Headers: amqp.Table{HeaderCanvas: canvasID},
		Body:    msg.Data(),
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: events: publish: %w", err)
	}
	p.confs = append(p.confs, dc)
	e.st.out.Add(1)
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
// JetStream (a feed's records: each feed has its own confirm). After a failure it acks nothing more: the next run starts
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
		e.st.deadLettered.Add(uint64(p.dead))
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

// updateLag records the records of every feed not yet confirmed: waiting
// to be fetched, or published and not acked.
func (e *events) updateLag(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var lag int64
	for _, f := range e.feeds {
		info, err := f.cons.Info(ictx)
		if err != nil {
			return
		}
		lag += int64(info.NumPending) + int64(info.NumAckPending)
	}
	e.st.lag.Store(lag)
}
