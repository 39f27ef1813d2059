package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/store"
)

// Headers of a dead-lettered command, besides the original ones (the
// authorization header is dropped: the dead-letter queue does not keep
// credentials).
const (
	HeaderCode     = "x-sker-code"     // the rejection's code
	HeaderMessage  = "x-sker-message"  // the rejection's message
	HeaderAttempts = "x-sker-attempts" // how many times the command was tried
	HeaderQueue    = "x-sker-queue"    // the queue it came from
)

// commands is the commands-in mapping.
type commands struct {
	cfg  *Config
	log  *slog.Logger
	st   *stats
	seen *outcomes
}

func newCommands(cfg *Config, log *slog.Logger) *commands {
	return &commands{cfg: cfg, log: log.With("mapping", MappingCommands), st: newStats(MappingCommands), seen: newOutcomes(cfg.Outcomes)}
}

func (c *commands) stats() *stats { return c.st }

// cmdRun is the mapping on one connection.
type cmdRun struct {
	c    *commands
	ctx  context.Context
	stop <-chan struct{}
	out  *amqp.Channel // replies and dead letters, in confirm mode
	fail chan error    // a job that could not finish: the run ends
}

func (c *commands) run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error {
	in, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: commands: open channel: %w", err)
	}
	defer in.Close()
	out, err := confirmChannel(conn, "commands")
	if err != nil {
		return err
	}
	defer out.Close()
	if err := in.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("bridge: commands: prefetch: %w", err)
	}
	tag := "sker-bridge-" + uuid.NewString()
	deliveries, err := in.Consume(c.cfg.CommandsQueue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("bridge: commands: consume %s: %w", c.cfg.CommandsQueue, err)
	}
	c.st.started()
	c.st.consuming.Store(true)
	defer c.st.consuming.Store(false)
	r := &cmdRun{c: c, ctx: ctx, stop: stop, out: out, fail: make(chan error, 1)}
	l := newLanes(r.handle)
	defer l.wait() // before the channels close: the jobs in flight finish first
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	c.updateLag(in)
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				if stop == nil {
					return nil // drained after Shutdown
				}
				return errors.New("bridge: commands: the consumer ended")
			}
			l.dispatch(parse(d, c.cfg.MaxBodyBytes))
		case <-stop:
			// Take no more; the deliveries already here still run.
			c.st.consuming.Store(false)
			if err := in.Cancel(tag, false); err != nil {
				return fmt.Errorf("bridge: commands: cancel: %w", err)
			}
			stop = nil
		case err := <-r.fail:
			return err
		case <-tick.C:
			c.updateLag(in)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// updateLag records the messages waiting in the queue.
func (c *commands) updateLag(ch *amqp.Channel) {
	if q, err := ch.QueueDeclarePassive(c.cfg.CommandsQueue, true, false, false, false, nil); err == nil {
		c.st.lag.Store(int64(q.Messages))
	}
}

// handle takes one delivery to its final outcome, publishes its reply and
// dead letter, and acks it once RabbitMQ has confirmed them.
func (r *cmdRun) handle(j *job) {
	c := r.c
	c.st.in.Add(1)
	if j.d.Redelivered {
		c.st.redelivered.Add(1)
	}
	o, final := c.decide(r.ctx, r.stop, j)
	if !final {
		// Stopping while the canvas cannot take it: a later delivery,
		// here or on another node, applies it.
		_ = j.d.Nack(false, true)
		return
	}
	if err := r.finish(j, o); err != nil {
		select {
		case r.fail <- err:
		default:
		}
	}
}

func (r *cmdRun) finish(j *job, o outcome) error {
	c := r.c
	ctx, cancel := context.WithTimeout(r.ctx, c.cfg.ConfirmTimeout)
	defer cancel()
	var confs []*amqp.DeferredConfirmation
	if o.rej != nil {
		dc, err := r.out.PublishWithDeferredConfirmWithContext(ctx, "", c.cfg.DeadLetterQueue, false, false, c.deadLetter(j, o))
		if err != nil {
			return fmt.Errorf("bridge: commands: dead-letter: %w", err)
		}
		confs = append(confs, dc)
	}
	if j.d.ReplyTo != "" {
		typ := "ack"
		if o.rej != nil {
			typ = "reject"
		}
		dc, err := r.out.PublishWithDeferredConfirmWithContext(ctx, "", j.d.ReplyTo, false, false, amqp.Publishing{
			ContentType: "application/json", CorrelationId: j.d.CorrelationId, Type: typ, Timestamp: time.Now(), Body: o.reply(j),
		})
		if err != nil {
			return fmt.Errorf("bridge: commands: reply: %w", err)
		}
		confs = append(confs, dc)
	}
	for _, dc := range confs {
		ok, err := dc.WaitContext(ctx)
		if err != nil || !ok {
			return fmt.Errorf("bridge: commands: publish not confirmed (acked %v): %v", ok, err)
		}
	}
	c.st.out.Add(uint64(len(confs)))
	if o.rej != nil {
		c.st.deadLettered.Add(1)
	}
	if err := j.d.Ack(false); err != nil {
		return fmt.Errorf("bridge: commands: ack: %w", err)
	}
	c.st.acked.Add(1)
	c.st.moved()
	return nil
}

// deadLetter is the copy of a rejected command for the dead-letter queue.
func (c *commands) deadLetter(j *job, o outcome) amqp.Publishing {
	h := amqp.Table{}
	for k, v := range j.d.Headers {
		if !strings.EqualFold(k, "authorization") {
			h[k] = v
		}
	}
	h[HeaderCode] = o.rej.Code
	h[HeaderMessage] = o.rej.Message
	h[HeaderAttempts] = int32(o.attempts)
	h[HeaderQueue] = c.cfg.CommandsQueue
	h[HeaderReason] = o.rej.Code + ": " + o.rej.Message
	h[HeaderMapping] = MappingCommands
	return amqp.Publishing{
		Headers: h, ContentType: j.d.ContentType, ContentEncoding: j.d.ContentEncoding, DeliveryMode: amqp.Persistent,
		CorrelationId: j.d.CorrelationId, ReplyTo: j.d.ReplyTo, MessageId: j.d.MessageId, Timestamp: j.d.Timestamp,
		Type: j.d.Type, AppId: j.d.AppId, Body: j.d.Body,
	}
}

// decide tries a command until its outcome is final: committed, or
// rejected for good (by validation, or after MaxAttempts passing
// failures). It reports false when the bridge stops first.
func (c *commands) decide(ctx context.Context, stop <-chan struct{}, j *job) (outcome, bool) {
	for n := 1; ; n++ {
		o, key, retry := c.attempt(ctx, j)
		o.attempts = n
		if ctx.Err() != nil {
			return o, false // stopped: not an outcome, neither final nor remembered
		}
		if retry && n >= c.cfg.MaxAttempts {
			// Not remembered: the canvas may be back when the command is
			// sent again (from the dead-letter queue, say).
			o.rej.Message += " (gave up after " + strconv.Itoa(n) + " attempts)"
			return o, true
		}
		if !retry {
			c.seen.put(key, o)
			return o, true
		}
		select {
		case <-time.After(backoff(100*time.Millisecond, 5*time.Second, n)):
		case <-stop:
			return o, false
		case <-ctx.Done():
			return o, false
		}
	}
}

// attempt tries a command once, with the checks of REST in their order:
// the token, the body, the role, then the canvas's own validation. It
// returns the outcome, the key it is remembered by, and whether the
// failure may pass (a retry may succeed).
func (c *commands) attempt(ctx context.Context, j *job) (o outcome, key string, retry bool) {
	tok, rej := bearerToken(j.d.Headers)
	if rej != nil {
		return outcome{rej: rej}, "", false
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := c.cfg.Auth.Authenticate(actx, tok)
	if err != nil {
		var ae *apierr.Error
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return outcome{rej: reject(ae)}, "", false
		}
		c.log.Warn("authenticate", "err", err)
		return outcome{rej: unavailable("could not check the token; nothing was committed")}, "", true
	}
	if j.badErr != nil {
		return outcome{rej: j.badErr}, "", false
	}
	id := j.d.MessageId
	if id == "" {
		id = j.cmd.ClientBatchID
	}
	key = outcomeKey(p.UserID, j.cmd.Canvas, id)
	if prev, ok := c.seen.get(key); ok {
		c.st.duplicates.Add(1)
		return prev, "", false
	}
	role, err := c.cfg.Roles.Role(actx, j.cmd.Canvas, p.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return outcome{rej: reject(apierr.NotFound("canvas"))}, key, false
	case err != nil:
		c.log.Warn("role lookup", "canvas_id", j.cmd.Canvas, "err", err)
		return outcome{rej: unavailable("could not check your role; nothing was committed")}, key, true
	case !role.CanEdit() && !canvas.CommentOnly(j.ops):
		return outcome{rej: reject(apierr.Forbidden("viewers cannot change a canvas; they may comment"))}, key, false
	}
	sctx, scancel := context.WithTimeout(ctx, c.cfg.SubmitTimeout)
	defer scancel()
	cbid := j.cbid()
	seq, err := c.cfg.Canvases.Submit(sctx, j.cmd.Canvas, p.UserID, cbid, j.ops)
	if err == nil {
		return outcome{seq: seq}, key, false
	}
	if ctx.Err() != nil {
		// The mapping stopped (its connection failed, or the bridge was
		// killed) before the outcome: no outcome at all, and the delivery,
		// unacked, comes again (decide does not remember this).
		return outcome{rej: unavailable("the bridge stopped before the outcome; nothing was decided")}, key, true
	}
	return c.submitError(err), key, passing(err, cbid != "")
}

// submitError is the rejection for an error of Submit: what REST and
// WebSocket tell of it (canvases.APIError).
func (c *commands) submitError(err error) outcome {
	var opErr *canvas.OpError
	if errors.As(err, &opErr) {
		return outcome{rej: opReject(opErr)}
	}
	if e, ok := canvases.APIError(err); ok {
		return outcome{rej: reject(e)}
	}
	c.log.Error("submit", "err", err)
	return outcome{rej: &rejection{Code: apierr.CodeInternal, Message: "internal error", Index: -1}}
}

// passing reports whether trying Submit again may succeed: the canvas was
// unavailable (nothing was committed), or the outcome is unknown and the
// batch has a client batch id, so that a second try cannot commit it twice.
func passing(err error, deduped bool) bool {
	var opErr *canvas.OpError
	switch {
	case errors.As(err, &opErr), errors.Is(err, canvases.ErrNotFound):
		return false
	case errors.Is(err, canvases.ErrUnavailable):
		return true
	}
	return deduped
}

func unavailable(msg string) *rejection {
	return &rejection{Code: apierr.CodeUnavailable, Message: msg, Index: -1}
}
