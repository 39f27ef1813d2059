package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/cluster"
)

// genericOut is a generic mapping from the JetStream stream that captures
// a subject to a RabbitMQ exchange. It works as the events mapping does:
// a durable consumer, acks in stream order once RabbitMQ has confirmed,
// the consumer reset to its first message not acked on every start, and
// on a cluster one node at a time, the holder of the mapping's lease.
type genericOut struct {
	cfg    *Config
	m      *GenericMapping
	log    *slog.Logger
	st     *stats
	stream string
	cons   jetstream.Consumer
}

// newGenericOut creates (or updates) the stream, when none captures the
// subject, and the durable consumer, which starts at the stream's end.
func newGenericOut(ctx context.Context, cfg *Config, m *GenericMapping, log *slog.Logger) (*genericOut, error) {
	g := &genericOut{cfg: cfg, m: m, log: log.With("mapping", m.Name), st: newStats(m.Name)}
	if err := g.ensure(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *genericOut) stats() *stats { return g.st }

func (g *genericOut) ensure(ctx context.Context) error {
	stream, err := ensureStream(ctx, g.cfg, g.m, g.m.FromSubject)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name := GenericConsumer(g.m.Name)
	ccfg := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "SKER bridge: mapping " + g.m.Name + " to RabbitMQ",
		FilterSubject: g.m.FromSubject,
		AckPolicy:     jetstream.AckAllPolicy, // acked in order: an ack covers every message before it
		AckWait:       EventsAckWait,
		MaxDeliver:    -1,
		MaxAckPending: g.cfg.MaxInFlight,
	}
	cons, err := durableFrom(cctx, g.cfg.JS, stream, ccfg)
	if err != nil {
		return fmt.Errorf("bridge: %s: consumer %s on %s: %w", g.m.Name, name, stream, err)
	}
	g.stream, g.cons = stream, cons
	return nil
}

// run publishes on conn: at once on a node alone; on a cluster only while
// this node holds the mapping's lease, standing by until it can claim it.
func (g *genericOut) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	if g.cfg.Leases == nil {
		return g.runOn(ctx, conn, stop, nil)
	}
	defer g.st.lease.Store(nil)
	for {
		l, err := claimLease(ctx, stop, g.cfg, GenericLeaseKey(g.m.Name), g.st, g.log, g.updateLag)
		if l == nil {
			return err
		}
		err = g.runOn(ctx, conn, stop, l)
		releaseLease(l, g.st, g.log)
		if !errors.Is(err, errLeaseEnded) {
			return err
		}
		g.log.Warn("lease no longer valid: publishing stopped; standing by", "why", l.Err())
	}
}

// outPending is a message published (to the exchange, or as a dead
// letter) and not yet acked.
type outPending struct {
	msg  jetstream.Msg
	seq  uint64
	conf *amqp.DeferredConfirmation
	dead bool
}

// runOn publishes on a channel of its own until stop (it waits for the
// confirms in flight and returns nil), a failure, or the lease's end.
func (g *genericOut) runOn(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}, lease *cluster.Lease) error {
	ch, err := confirmChannel(conn, g.m.Name)
	if err != nil {
		return err
	}
	defer ch.Close()
	if nc := g.cfg.JS.Conn(); nc != nil {
		_ = nc.Flush() // the acks sent so far reach the server first
	}
	reset, err := g.reset(ctx, stop, lease)
	if err != nil || reset == nil {
		return err
	}
	g.st.started()
	g.st.consuming.Store(true)
	defer g.st.consuming.Store(false)
	window := make(chan *outPending, g.cfg.MaxInFlight)
	failed := make(chan error, 1)
	confirmed := make(chan struct{})
	go func() {
		defer close(confirmed)
		g.confirm(ctx, window, failed)
	}()
	err = g.publish(ctx, ch, stop, lease, window, failed, reset.ResetSeq-1)
	close(window)
	if err != nil {
		return err
	}
	<-confirmed
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}

// reset makes sure the stream and consumer exist (they may have been
// deleted while the bridge was away) and puts the consumer back to its
// first message not acked, trying again while JetStream does not answer.
func (g *genericOut) reset(ctx context.Context, stop <-chan struct{}, lease *cluster.Lease) (*jetstream.ConsumerResetResponse, error) {
	var leaseDone <-chan struct{}
	if lease != nil {
		leaseDone = lease.Done()
	}
	for {
		err := g.ensure(ctx)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, resetTry)
			var reset *jetstream.ConsumerResetResponse
			reset, err = g.cfg.JS.ResetConsumer(rctx, g.stream, GenericConsumer(g.m.Name))
			cancel()
			if err == nil {
				return reset, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		g.log.Warn("reset the consumer; trying again", "consumer", GenericConsumer(g.m.Name), "err", err)
		select {
		case <-stop:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-leaseDone:
			return nil, errLeaseEnded
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// publish fetches messages in stream order and publishes them until stop
// (nil) or a failure.
func (g *genericOut) publish(ctx context.Context, ch *amqp.Channel, stop <-chan struct{}, lease *cluster.Lease, window chan<- *outPending, failed <-chan error, published uint64) error {
	var lagAt time.Time
	var leaseDone <-chan struct{}
	if lease != nil {
		leaseDone = lease.Done()
	}
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
		if time.Since(lagAt) > 2*time.Second {
			g.updateLag(ctx)
			lagAt = time.Now()
		}
		fctx, cancel := context.WithTimeout(wake, time.Second)
		batch, err := g.cons.Fetch(max(1, cap(window)-len(window)), jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wake.Err() == nil {
				g.log.Warn("fetch", "stream", g.stream, "err", err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		err = g.sendAll(ctx, ch, lease, batch, window, failed, &published)
		cancel()
		if err != nil {
			return err
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoHeartbeat) {
			g.log.Warn("fetch", "stream", g.stream, "err", err)
		}
	}
}

func (g *genericOut) sendAll(ctx context.Context, ch *amqp.Channel, lease *cluster.Lease, batch jetstream.MessageBatch, window chan<- *outPending, failed <-chan error, published *uint64) error {
	var leaseDone <-chan struct{}
	if lease != nil {
		leaseDone = lease.Done()
	}
	for msg := range batch.Messages() {
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("bridge: %s: message metadata: %w", g.m.Name, err)
		}
		if meta.Sequence.Stream <= *published {
			continue // delivered again while in flight; an ack after it covers it
		}
		if lease != nil && !lease.Valid() {
			return errLeaseEnded
		}
		p, err := g.send(ctx, ch, msg, meta)
		if err != nil {
			return err
		}
		select {
		case window <- p:
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-leaseDone:
			return errLeaseEnded
		}
		*published = p.seq
	}
	return nil
}

// send publishes one message to the exchange, or to the dead-letter
// queue when it has no routing key or is too large.
func (g *genericOut) send(ctx context.Context, ch *amqp.Channel, msg jetstream.Msg, meta *jetstream.MsgMetadata) (*outPending, error) {
	p := &outPending{msg: msg, seq: meta.Sequence.Stream}
	g.st.in.Add(1)
	if meta.NumDelivered > 1 {
		g.st.redelivered.Add(1)
	}
	pub := g.publishing(msg, meta)
	exchange, key, reason := g.m.ToExchange, "", ""
	if len(msg.Data()) > g.cfg.MaxBodyBytes {
		reason = fmt.Sprintf("body of %d bytes is over the limit of %d", len(msg.Data()), g.cfg.MaxBodyBytes)
	} else if k, err := g.m.key.render(msg.Subject(), msg.Headers().Get); err != nil {
		reason = err.Error()
	} else {
		key = k
	}
	if reason != "" {
		p.dead = true
		exchange, key = "", g.m.DeadLetterQueue
		pub.Headers[HeaderReason] = reason
		pub.Headers[HeaderMapping] = g.m.Name
		pub.Headers[HeaderSubject] = msg.Subject()
		g.log.Warn("message dead-lettered", "queue", g.m.DeadLetterQueue, "subject", msg.Subject(), "stream_seq", p.seq, "reason", reason)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, pub)
	if err != nil {
		return nil, fmt.Errorf("bridge: %s: publish: %w", g.m.Name, err)
	}
	p.conf = dc
	return p, nil
}

// publishing is the AMQP message of a stream message: its body, its NATS
// headers (the first value of each, none named Nats-…) and Content-Type
// as content_type, message_id "<stream>:<stream seq>" (the same on every
// delivery), the headers sker-subject and sker-stream-seq, and the time
// the stream stored it.
func (g *genericOut) publishing(msg jetstream.Msg, meta *jetstream.MsgMetadata) amqp.Publishing {
	h := amqp.Table{}
	ct := ""
	for k, vs := range msg.Headers() {
		switch {
		case len(vs) == 0 || strings.HasPrefix(strings.ToLower(k), "nats-"):
		case strings.EqualFold(k, NATSHeaderContentType):
			ct = vs[0]
		default:
			h[k] = vs[0]
		}
	}
	h[HeaderNATSSubject] = msg.Subject()
	h[HeaderStreamSeq] = int64(meta.Sequence.Stream)
	return amqp.Publishing{
		Headers: h, ContentType: ct, DeliveryMode: amqp.Persistent, AppId: "sker",
		MessageId: meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10),
		Timestamp: meta.Timestamp, Body: msg.Data(),
	}
}

// confirm waits for each message's confirm in order and acks it to
// JetStream; after a failure it acks nothing more.
func (g *genericOut) confirm(ctx context.Context, window <-chan *outPending, failed chan<- error) {
	bad := false
	for p := range window {
		if bad {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, g.cfg.ConfirmTimeout)
		ok, err := p.conf.WaitContext(wctx)
		cancel()
		switch {
		case err != nil:
			err = fmt.Errorf("bridge: %s: confirm of message %d: %w", g.m.Name, p.seq, err)
		case !ok:
			err = fmt.Errorf("bridge: %s: RabbitMQ refused message %d (nack)", g.m.Name, p.seq)
		default:
			if err = p.msg.Ack(); err != nil {
				err = fmt.Errorf("bridge: %s: ack message %d: %w", g.m.Name, p.seq, err)
			}
		}
		if err != nil {
			bad = true
			failed <- err
			continue
		}
		if p.dead {
			g.st.deadLettered.Add(1)
		} else {
			g.st.out.Add(1)
		}
		g.st.acked.Add(1)
		g.st.moved()
	}
}

// updateLag records the messages not yet confirmed: waiting to be
// fetched, or published and not acked.
func (g *genericOut) updateLag(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := g.cons.Info(ictx); err == nil {
		g.st.lag.Store(int64(info.NumPending) + int64(info.NumAckPending))
	}
}
