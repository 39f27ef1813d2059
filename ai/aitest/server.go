// Package aitest runs local HTTP servers that speak the streaming wire
// formats of OpenAI (chat completions) and Anthropic (messages), so tests
// of the AI layer never need the internet.
//
// Each server answers requests from a queue of scripted Replies, then with
// its default Reply. A Reply can fail with an HTTP status (and Retry-After),
// stream deltas with a delay between them, and end normally, with an error
// event, a dropped connection, a malformed chunk, or by hanging until the
// client disconnects. The server records every request (path, headers,
// body) and notices clients that disconnect mid-reply. It never logs.
package aitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Break is how a streamed Reply ends after its deltas.
type Break int

// The ways a stream can end.
const (
	End        Break = iota // normally: the provider's closing events with usage
	ErrorEvent              // with an error event in the provider's format
	Drop                    // by closing the connection abruptly
	Cut                     // by finishing the response cleanly but without the closing events
	Malformed               // with a chunk that is not valid JSON, then closing
	Hang                    // by waiting, silent, until the client disconnects
)

// Reply scripts the answer to one request.
type Reply struct {
	// Status, when neither 0 nor 200, answers with this HTTP status and an
	// error body in the provider's shape instead of a stream.
	Status       int
	RetryAfter   string // Retry-After header of an error answer, e.g. "1"
	ErrorType    string // error type of an error answer or event; empty: the provider's usual one for the status
	ErrorMessage string // error message of an error answer or event; empty: a fixed text

	Deltas       []string      // text deltas, in order
	Delay        time.Duration // wait before each delta
	InputTokens  int           // usage reported at the end (or, for Anthropic, at the start)
	OutputTokens int
	Break        Break // how the stream ends after the deltas
}

// Repeat returns n copies of r, for Push.
func Repeat(n int, r Reply) []Reply {
	out := make([]Reply, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// DefaultReply is what a server answers when its queue is empty, until
// SetDefault changes it.
var DefaultReply = Reply{Deltas: []string{"Hello", ", world"}, InputTokens: 7, OutputTokens: 3}

// Request is one request a server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Decode unmarshals the JSON body into v.
func (r Request) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// AuthKey returns the key the request authenticated with, from
// "Authorization: Bearer" or x-api-key, or "".
func (r Request) AuthKey() string { return authKey(r.Header) }

// authKey reads the key from x-api-key or "Authorization: Bearer".
func authKey(h http.Header) string {
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	return strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
}

// event is one server-sent event; name is empty for data-only events.
type event struct{ name, data string }

// failure is an error answer.
type failure struct {
	status               int
	typ, msg, retryAfter string
}

// streamInfo is what the stream needs from the request.
type streamInfo struct {
	model        string
	includeUsage bool
}

// dialect is one provider's wire format.
type dialect interface {
	path() string
	// check validates a request and its authentication against key.
	check(r *http.Request, body []byte, key string) (streamInfo, *failure)
	defaultErrorType(status int) string
	errorBody(f failure) []byte
	start(info streamInfo, reply Reply) []event
	delta(info streamInfo, text string) event
	end(info streamInfo, reply Reply) []event
	errorEvent(typ, msg string) event
	malformed() event
}

// Server is a scripted provider. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to configure the provider with.
	URL string

	d    dialect
	srv  *httptest.Server
	done chan struct{} // closed at cleanup, so hanging handlers end

	mu          sync.Mutex
	key         string
	queue       []Reply
	fallback    Reply
	requests    []Request
	disconnects int
	closedOnce  sync.Once
	closed      chan struct{}
}

// newServer starts a server for d and closes it when tb's test ends.
func newServer(tb testing.TB, d dialect, urlSuffix string) *Server {
	tb.Helper()
	s := &Server{d: d, done: make(chan struct{}), closed: make(chan struct{}), fallback: DefaultReply}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + urlSuffix
	tb.Cleanup(func() {
		close(s.done)
		s.srv.Close()
	})
	return s
}

// SetKey makes the server require key (empty: no authentication).
func (s *Server) SetKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
}

// Push queues replies for the next requests, in order.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// SetDefault sets the reply used when the queue is empty.
func (s *Server) SetDefault(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = r
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// Disconnected is closed when a client first disconnects before its reply
// was complete.
func (s *Server) Disconnected() <-chan struct{} { return s.closed }

// Disconnects counts clients that disconnected before their reply was
// complete.
func (s *Server) Disconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnects
}

// serve records the request, then answers with a validation failure, a
// scripted error or a scripted stream.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	key := s.key
	s.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != s.d.path() {
		s.writeError(w, failure{status: http.StatusNotFound, msg: fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
		return
	}
	info, f := s.d.check(r, body, key)
	if f != nil {
		s.writeError(w, *f)
		return
	}
	reply := s.next()
	if reply.Status != 0 && reply.Status != http.StatusOK {
		s.writeError(w, failure{status: reply.Status, typ: reply.ErrorType, msg: reply.ErrorMessage, retryAfter: reply.RetryAfter})
		return
	}
	s.stream(w, r, info, reply)
}

// next pops the next scripted reply, or returns the default.
func (s *Server) next() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return s.fallback
	}
	r := s.queue[0]
	s.queue = s.queue[1:]
	return r
}

// writeError sends an error answer in the dialect's shape.
func (s *Server) writeError(w http.ResponseWriter, f failure) {
	if f.typ == "" {
		f.typ = s.d.defaultErrorType(f.status)
	}
	if f.msg == "" {
		f.msg = fmt.Sprintf("scripted %d %s", f.status, http.StatusText(f.status))
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	w.Write(s.d.errorBody(f))
}

// stream sends the scripted stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, info streamInfo, reply Reply) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(evs ...event) bool {
		var buf bytes.Buffer
		for _, ev := range evs {
			if ev.name != "" {
				fmt.Fprintf(&buf, "event: %s\n", ev.name)
			}
			fmt.Fprintf(&buf, "data: %s\n\n", ev.data)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(s.d.start(info, reply)...) {
		s.disconnect()
		return
	}
	for _, text := range reply.Deltas {
		if !s.wait(r, reply.Delay) || !send(s.d.delta(info, text)) {
			s.disconnect()
			return
		}
	}
	switch reply.Break {
	case End:
		send(s.d.end(info, reply)...)
	case ErrorEvent:
		typ := reply.ErrorType
		if typ == "" {
			typ = s.d.defaultErrorType(http.StatusServiceUnavailable)
		}
		msg := reply.ErrorMessage
		if msg == "" {
			msg = "scripted error event"
		}
		send(s.d.errorEvent(typ, msg))
	case Drop:
		panic(http.ErrAbortHandler) // closes the connection mid-stream, unlogged
	case Cut:
		// Return: the chunked body ends properly, as behind a proxy that
		// gave up, so only a missing end marker shows the cut.
	case Malformed:
		send(s.d.malformed())
	case Hang:
		if !s.wait(r, -1) {
			s.disconnect()
		}
	}
}

// wait waits d (forever when negative) and reports false if the client
// went away first. Server cleanup also ends the wait.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d == 0 {
		return r.Context().Err() == nil
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-r.Context().Done():
		return false
	case <-s.done:
		return true
	case <-timeout:
		return true
	}
}

// disconnect records a client that went away mid-reply.
func (s *Server) disconnect() {
	s.mu.Lock()
	s.disconnects++
	s.mu.Unlock()
	s.closedOnce.Do(func() { close(s.closed) })
}

// mustJSON marshals v, which is always marshalable here.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
