package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// mapping is one direction of the bridge over a connection.
type mapping interface {
	stats() *stats
	// run moves messages over conn until ctx ends (it returns at once,
	// leaving what it holds unacked, to be delivered again), conn or one
	// of its channels fails (an error), or stop is closed (it finishes
	// what it holds and returns nil).
	run(ctx context.Context, conn *amqp.Connection, stop <-chan struct{}) error
}

// Bridge is the RabbitMQ bridge of one node: its connection and its
// mappings.
type Bridge struct {
	cfg      Config
	log      *slog.Logger
	mappings []mapping

	stop     chan struct{} // closed by Shutdown: drain and end
	stopOnce sync.Once
	done     chan struct{} // closed when Run returns

	mu        sync.Mutex
	running   bool
	abort     context.CancelFunc // ends Run at once
	connected bool
	lastErr   string
	connects  int
}

// ConfigError is New's error for a Config the bridge cannot run, as
// against a JetStream that does not answer yet (a cluster still electing),
// which a later New may find answering.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New returns a Bridge for cfg; it connects when Run is called. It creates
// the events mapping's durable JetStream consumer, so that every batch
// committed after New returns reaches the exchange, even when RabbitMQ
// cannot be reached yet.
func New(ctx context.Context, cfg Config) (*Bridge, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	b := &Bridge{cfg: cfg, log: cfg.Logger.With("component", "bridge"), stop: make(chan struct{}), done: make(chan struct{})}
	if !cfg.DisableCommands {
		b.mappings = append(b.mappings, newCommands(&b.cfg, b.log))
	}
	if !cfg.DisableEvents {
		ev, err := newEvents(ctx, &b.cfg, b.log)
		if err != nil {
			return nil, err
		}
		b.mappings = append(b.mappings, ev)
	}
	if cfg.AIWorkers != nil {
		b.mappings = append(b.mappings, cfg.AIWorkers)
	}
	if err := b.newGeneric(ctx); err != nil {
		return nil, err
	}
	all := make([]*stats, len(b.mappings))
	for i, m := range b.mappings {
		all[i] = m.stats()
	}
	register(cfg.Registerer, func() bool { return b.Status().Connected }, all...)
	return b, nil
}

// Run connects and runs the mappings, connecting again with backoff
// whenever the connection fails, until Shutdown drains it (it returns nil)
// or ctx ends (it returns at once, and what was in flight is delivered
// again on the next start).
func (b *Bridge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return errors.New("bridge: Run called twice")
	}
	b.running, b.abort = true, cancel
	b.mu.Unlock()
	defer close(b.done)
	failures := 0
	for {
		if b.stopping() || ctx.Err() != nil {
			return nil
		}
		conn, err := b.dial(ctx)
		if err == nil {
			b.setConnected(true, nil)
			start := time.Now()
			err = b.serve(ctx, conn)
			_ = conn.Close()
			if time.Since(start) > b.cfg.ReconnectMax {
				failures = 0
			}
		}
		b.setConnected(false, err)
		if b.stopping() || ctx.Err() != nil {
			return nil
		}
		failures++
		wait := backoff(b.cfg.ReconnectMin, b.cfg.ReconnectMax, failures)
		b.log.Warn("rabbitmq connection failed; connecting again", "err", err, "backoff", wait)
		select {
		case <-time.After(wait):
		case <-b.stop:
		case <-ctx.Done():
		}
	}
}

// serve runs every mapping on conn until one fails or the connection
// closes (an error), or every mapping has drained after Shutdown (nil).
func (b *Bridge) serve(ctx context.Context, conn *amqp.Connection) error {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(b.mappings))
	for _, m := range b.mappings {
		go func() { errc <- m.run(mctx, conn, b.stop) }()
	}
	var first error
	for left := len(b.mappings); left > 0; {
		select {
		case err := <-errc:
			left--
			if err != nil && first == nil {
				first = err
				cancel()
			}
		case e, ok := <-closed:
			if first == nil {
				first = fmt.Errorf("bridge: connection closed: %v", e)
				if !ok || e == nil {
					first = errors.New("bridge: connection closed")
				}
			}
			closed = nil
			cancel()
		}
	}
	if first == nil && !b.stopping() {
		first = errors.New("bridge: mappings ended")
	}
	return first
}

// Shutdown stops taking messages, finishes the commands in flight and
// waits for the confirms of the events in flight, then closes the
// connection. When ctx ends first, it drops what is in flight (RabbitMQ and
// JetStream deliver it again on the next start) and returns ctx's error.
// A Bridge whose Run was never called has nothing to do.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() { close(b.stop) })
	b.mu.Lock()
	running, abort := b.running, b.abort
	b.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		abort()
		<-b.done
		return fmt.Errorf("bridge: shutdown: %w", ctx.Err())
	}
}

func (b *Bridge) stopping() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// dial opens the connection and declares the topology, so that a queue or
// exchange deleted while the bridge was away exists again.
func (b *Bridge) dial(ctx context.Context) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("sker bridge")
	conn, err := amqp.DialConfig(b.cfg.URL, amqp.Config{
		Heartbeat: b.cfg.Heartbeat, Properties: props, Dial: amqp.DefaultDial(10 * time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: dial: %w", err)
	}
	if err := b.declare(conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if ctx.Err() != nil {
		_ = conn.Close()
		return nil, ctx.Err()
	}
	return conn, nil
}

func (b *Bridge) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: open channel: %w", err)
	}
	defer ch.Close()
	if !b.cfg.DisableCommands {
		for _, q := range []string{b.cfg.CommandsQueue, b.cfg.DeadLetterQueue} {
			if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
				return fmt.Errorf("bridge: declare queue %s: %w", q, err)
			}
		}
	}
	if !b.cfg.DisableEvents {
		if err := ch.ExchangeDeclare(b.cfg.EventsExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("bridge: declare exchange %s: %w", b.cfg.EventsExchange, err)
		}
		if _, err := ch.QueueDeclare(b.cfg.EventsDeadLetterQueue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("bridge: declare queue %s: %w", b.cfg.EventsDeadLetterQueue, err)
		}
	}
	return b.declareGeneric(ch)
}

func (b *Bridge) setConnected(up bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connected = up
	if up {
		b.connects++
		b.lastErr = ""
	} else if err != nil {
		b.lastErr = err.Error()
	}
}

// Status is what the bridge really does, for /ready and operators.
type Status struct {
	// Connected: the bridge has its RabbitMQ connection.
	Connected bool `json:"connected"`
	// LastError is why the connection last failed, "" while connected.
	LastError string `json:"last_error,omitempty"`
	// Connects counts the connections made, the first included.
	Connects int             `json:"connects"`
	Mappings []MappingStatus `json:"mappings"`
}

// Status reports the connection and each mapping.
func (b *Bridge) Status() Status {
	b.mu.Lock()
	st := Status{Connected: b.connected, LastError: b.lastErr, Connects: b.connects}
	b.mu.Unlock()
	for _, m := range b.mappings {
		st.Mappings = append(st.Mappings, m.stats().status())
	}
	return st
}

// Ready reports an error unless the bridge is connected and every mapping
// is consuming: a bridge that runs but moves nothing is not ready. On a
// cluster, events standing by while another node holds their lease are
// ready: that node publishes them.
func (b *Bridge) Ready(context.Context) error {
	st := b.Status()
	if !st.Connected {
		if st.LastError != "" {
			return fmt.Errorf("not connected: %s", st.LastError)
		}
		return errors.New("not connected")
	}
	for _, m := range st.Mappings {
		if !m.Consuming && !m.Lease.standingBy() {
			return fmt.Errorf("%s: not consuming", m.Name)
		}
	}
	return nil
}

// confirmChannel opens a channel of conn in confirm mode, for a mapping's
// publishes; errors name the mapping.
func confirmChannel(conn *amqp.Connection, mapping string) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("bridge: %s: open channel: %w", mapping, err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("bridge: %s: confirm mode: %w", mapping, err)
	}
	return ch, nil
}

// backoff is the wait before attempt n (1 is the first retry): doubling
// from lo up to hi, with a fifth of jitter either way.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo << min(n-1, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) * 2
	return d - d/5 + jitter
}
