package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// errAttemptTimeout: no answer came within RequestTimeout. The request was
// published, so a batch may have reached its owner.
var errAttemptTimeout = errors.New("cluster: no answer in time")

// errRouterClosed: the router was shut down.
var errRouterClosed = errors.New("cluster: router shut down")

// mux takes the answers to this node's requests on one subscription to a
// reply inbox of its own, _INBOX.<id>.*: each request gets its own token.
// A request is published by the goroutine that makes it, so requests
// leave in the order they are made, and no goroutine waits per request.
// An answer in parts is joined here.
type mux struct {
	nc     *nats.Conn
	prefix string
	sub    *nats.Subscription

	mu     sync.Mutex
	next   uint64
	calls  map[string]*muxCall
	closed bool
}

// muxCall is one request waiting for its answer. deliver runs once, on the
// mux's subscription goroutine, or on a timer's.
type muxCall struct {
	subject string
	sent    time.Time
	deliver func(data []byte, err error)
	timer   *time.Timer
	parts   []byte
	got     int
}

func newMux(nc *nats.Conn) (*mux, error) {
	m := &mux{nc: nc, prefix: nc.NewInbox() + ".", calls: map[string]*muxCall{}}
	sub, err := nc.Subscribe(m.prefix+"*", m.receive)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to the reply inbox: %w", err)
	}
	// Answers come only for requests made here, and a snapshot in parts
	// may be many messages: the limit is what callers asked for.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: reply inbox limits: %w", err)
	}
	m.sub = sub
	return m, nil
}

// request publishes body to subject and calls deliver with the answer, or
// with an error: nats.ErrNoResponders when nobody listens on subject,
// errAttemptTimeout after timeout. An error returned means nothing was
// published, and deliver is not called.
func (m *mux) request(subject string, body []byte, timeout time.Duration, deliver func([]byte, error)) error {
	if max := m.nc.MaxPayload(); int64(len(body)) > max {
		return &tooLargeError{size: len(body), max: max}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errRouterClosed
	}
	m.next++
	token := strconv.FormatUint(m.next, 36)
	c := &muxCall{subject: subject, sent: time.Now(), deliver: deliver}
	m.calls[token] = c
	c.timer = time.AfterFunc(timeout, func() {
		if m.take(token) != nil {
			deliver(nil, errAttemptTimeout)
		}
	})
	m.mu.Unlock()
	if err := m.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: m.prefix + token, Data: body}); err != nil {
		if m.take(token) != nil {
			return fmt.Errorf("cluster: publish to %s: %w", subject, err)
		}
		// Answered (or timed out) already: deliver has run.
	}
	return nil
}

// take removes the call of token and stops its timer; nil when it was
// answered already.
func (m *mux) take(token string) *muxCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls[token]
	if c != nil {
		delete(m.calls, token)
		c.timer.Stop()
	}
	return c
}

func (m *mux) receive(msg *nats.Msg) {
	token := msg.Subject[len(m.prefix):]
	if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
		if c := m.take(token); c != nil {
			c.deliver(nil, nats.ErrNoResponders)
		}
		return
	}
	parts := msg.Header.Get(headerParts)
	if parts == "" {
		if c := m.take(token); c != nil {
			c.deliver(msg.Data, nil)
		}
		return
	}
	m.mu.Lock()
	c := m.calls[token]
	if c == nil {
		m.mu.Unlock()
		return
	}
	n, err1 := strconv.Atoi(parts)
	i, err2 := strconv.Atoi(msg.Header.Get(headerPart))
	if err1 != nil || err2 != nil || i != c.got+1 || i > n {
		m.mu.Unlock()
		if c := m.take(token); c != nil {
			c.deliver(nil, fmt.Errorf("cluster: answer part %q of %q out of order (after part %d)",
				msg.Header.Get(headerPart), parts, c.got))
		}
		return
	}
	c.parts = append(c.parts, msg.Data...)
	c.got = i
	m.mu.Unlock()
	if i == n {
		if c := m.take(token); c != nil {
			c.deliver(c.parts, nil)
		}
	}
}

// subjects lists the subjects of the calls waiting for an answer for
// longer than min.
func (m *mux) subjects(min time.Duration) map[string]bool {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]bool{}
	for _, c := range m.calls {
		if now.Sub(c.sent) >= min {
			out[c.subject] = true
		}
	}
	return out
}

// abandon ends every call waiting on subject, as its timer would, with
// errAttemptTimeout wrapped with why: their answer will not come.
func (m *mux) abandon(subject, why string) int {
	m.mu.Lock()
	var tokens []string
	for token, c := range m.calls {
		if c.subject == subject {
			tokens = append(tokens, token)
		}
	}
	m.mu.Unlock()
	n := 0
	for _, token := range tokens {
		if c := m.take(token); c != nil {
			c.deliver(nil, fmt.Errorf("%w: %s", errAttemptTimeout, why))
			n++
		}
	}
	return n
}

// close unsubscribes and ends every call waiting with errRouterClosed.
func (m *mux) close() {
	m.mu.Lock()
	m.closed = true
	calls := m.calls
	m.calls = map[string]*muxCall{}
	m.mu.Unlock()
	_ = m.sub.Unsubscribe()
	for _, c := range calls {
		// A timer that fires now finds its call gone and delivers nothing.
		c.timer.Stop()
		c.deliver(nil, errRouterClosed)
	}
}

// tooLargeError: a request longer than the connection's max payload.
type tooLargeError struct {
	size int
	max  int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("cluster: request of %d bytes is over the NATS max payload of %d bytes", e.size, e.max)
}
