package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
)

// genericIn is a generic mapping from a RabbitMQ queue to a NATS subject.
// It moves one message at a time, in queue order: published to
// JetStream, then acked to RabbitMQ once JetStream has it.
type genericIn struct {
	cfg *Config
	m   *GenericMapping
	log *slog.Logger
	st  *stats
}

func newGenericIn(cfg *Config, m *GenericMapping, log *slog.Logger) *genericIn {
	return &genericIn{cfg: cfg, m: m, log: log.With("mapping", m.Name), st: newStats(m.Name)}
}

func (g *genericIn) stats() *stats { return g.st }

// errStopped: the bridge stopped while a message waited to be moved; it
// stays unacked, for RabbitMQ to deliver again.
var errStopped = errors.New("bridge: stopped")

func (g *genericIn) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	if ok, err := g.waitStream(ctx, stop); !ok {
		return err
	}
	in, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: %s: open channel: %w", g.m.Name, err)
	}
	defer in.Close()
	out, err := confirmChannel(conn, g.m.Name)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := in.Qos(g.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("bridge: %s: prefetch: %w", g.m.Name, err)
	}
	deliveries, err := in.Consume(g.m.FromQueue, "sker-bridge-"+uuid.NewString(), false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("bridge: %s: consume %s: %w", g.m.Name, g.m.FromQueue, err)
	}
	g.st.started()
	g.st.consuming.Store(true)
	defer g.st.consuming.Store(false)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	g.updateLag(in)
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("bridge: %s: the consumer ended", g.m.Name)
			}
			if err := g.handle(ctx, stop, out, d); err != nil {
				if errors.Is(err, errStopped) {
					return nil
				}
				return err
			}
		case <-stop:
			return nil // what is prefetched and unacked goes back to the queue
		case <-tick.C:
			g.updateLag(in)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitStream makes sure a stream captures the subject, trying again
// while JetStream does not answer. It reports false when stop or ctx ends
// the wait (ctx's error).
func (g *genericIn) waitStream(ctx context.Context, stop <-chan struct{}) (bool, error) {
	for n := 1; ; n++ {
		_, err := ensureStream(ctx, g.cfg, g.m, g.m.ToSubject)
		if err == nil {
			return true, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		g.log.Warn("no stream for the subject yet; trying again", "subject", g.m.ToSubject, "err", err)
		select {
		case <-time.After(backoff(100*time.Millisecond, 5*time.Second, n)):
		case <-stop:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (g *genericIn) updateLag(ch *amqp.Channel) {
	if q, err := ch.QueueDeclarePassive(g.m.FromQueue, true, false, false, false, nil); err == nil {
		g.st.lag.Store(int64(q.Messages))
	}
}

// handle publishes one delivery to JetStream and acks it once JetStream
// has it, or dead-letters it: too large, or refused by JetStream
// MaxAttempts times. While JetStream does not answer (NATS or the stream
// unreachable: not the message's fault), it tries again without end, and
// the mapping reports itself not consuming.
func (g *genericIn) handle(ctx context.Context, stop <-chan struct{}, out *amqp.Channel, d amqp.Delivery) error {
	g.st.in.Add(1)
	if d.Redelivered {
		g.st.redelivered.Add(1)
	}
	if len(d.Body) > g.cfg.MaxBodyBytes {
		return g.deadLetter(ctx, out, d, fmt.Sprintf("body of %d bytes is over the limit of %d", len(d.Body), g.cfg.MaxBodyBytes))
	}
	msg := g.natsMsg(d)
	refused, tries := 0, 0
	for {
		tries++
		pctx, cancel := context.WithTimeout(ctx, g.cfg.ConfirmTimeout)
		ack, err := g.cfg.JS.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			if ack.Duplicate {
				g.st.duplicates.Add(1)
			}
			g.st.consuming.Store(true)
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var apiErr *jetstream.APIError
		switch {
		case errors.Is(err, nats.ErrMaxPayload):
			return g.deadLetter(ctx, out, d, "too large for NATS: "+err.Error())
		case errors.As(err, &apiErr):
			if refused++; refused >= g.cfg.MaxAttempts {
				return g.deadLetter(ctx, out, d, fmt.Sprintf("JetStream refused it %d times: %v", refused, err))
			}
		default:
			g.st.consuming.Store(false)
			if errors.Is(err, jetstream.ErrNoStreamResponse) {
				_, _ = ensureStream(ctx, g.cfg, g.m, g.m.ToSubject) // deleted meanwhile
			}
		}
		g.log.Warn("publish to JetStream failed; trying again", "subject", g.m.ToSubject, "message_id", d.MessageId, "err", err)
		select {
		case <-time.After(backoff(100*time.Millisecond, 5*time.Second, tries)):
		case <-stop:
			return errStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := d.Ack(false); err != nil {
		return fmt.Errorf("bridge: %s: ack: %w", g.m.Name, err)
	}
	g.st.out.Add(1)
	g.st.acked.Add(1)
	g.st.moved()
	return nil
}

// natsMsg is the NATS message of a delivery: its body, its headers that
// have a text form (none named Nats-…: those are JetStream's), and its
// properties as the headers NATSHeader…; the message_id is Nats-Msg-Id,
// which JetStream deduplicates by.
func (g *genericIn) natsMsg(d amqp.Delivery) *nats.Msg {
	h := nats.Header{}
	for k, v := range d.Headers {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		if s, ok := natsHeaderValue(v); ok {
			h[k] = []string{s}
		}
	}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	set(NATSHeaderContentType, d.ContentType)
	set(NATSHeaderEncoding, d.ContentEncoding)
	set(NATSHeaderCorrelationID, d.CorrelationId)
	set(NATSHeaderType, d.Type)
	set(NATSHeaderAppID, d.AppId)
	set(jetstream.MsgIDHeader, d.MessageId)
	return &nats.Msg{Subject: g.m.ToSubject, Header: h, Data: d.Body}
}

// deadLetter publishes a copy of d to the dead-letter queue with the
// reason, and acks d once RabbitMQ has confirmed the copy.
func (g *genericIn) deadLetter(ctx context.Context, out *amqp.Channel, d amqp.Delivery, reason string) error {
	h := amqp.Table{}
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = reason
	h[HeaderMapping] = g.m.Name
	h[HeaderQueue] = g.m.FromQueue
	err := publishConfirmed(ctx, out, g.cfg.ConfirmTimeout, g.m.DeadLetterQueue, amqp.Publishing{
		Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding, DeliveryMode: amqp.Persistent,
		CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp,
		Type: d.Type, AppId: d.AppId, Body: d.Body,
	})
	if err != nil {
		return fmt.Errorf("bridge: %s: dead-letter: %w", g.m.Name, err)
	}
	g.log.Warn("message dead-lettered", "queue", g.m.DeadLetterQueue, "message_id", d.MessageId, "reason", reason)
	g.st.deadLettered.Add(1)
	if err := d.Ack(false); err != nil {
		return fmt.Errorf("bridge: %s: ack: %w", g.m.Name, err)
	}
	g.st.acked.Add(1)
	g.st.moved()
	return nil
}

// publishConfirmed publishes msg to queue (the default exchange) and
// waits for RabbitMQ's confirm, at most timeout.
func publishConfirmed(ctx context.Context, ch *amqp.Channel, timeout time.Duration, queue string, msg amqp.Publishing) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, msg)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("RabbitMQ refused it (nack)")
	}
	return nil
}
