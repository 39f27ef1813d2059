package bridge_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// The conformance suite: one set of properties that every mapping kind
// of the bridge keeps, each kind driven through a side (as watermill runs
// one suite per adapter):
//
//   - OrderAcrossCut: what is sent before and after a cut of the bridge's
//     connection all arrives, in the order sent, each body under one id;
//     the status shows the reconnect and every message acked.
//   - ResumeAfterKill: the bridge killed in the middle of the flow (nothing
//     drained) and started again: nothing is lost.
//   - RedeliveryNotDuplicated: what the source delivers again is dropped by
//     id, or comes again under its first id; what follows still flows.
//   - PoisonToDeadLetters: what the mapping cannot move goes to its
//     dead-letter queue with the reason and the mapping in its headers, is
//     acked at the source (no requeue loop), and what follows still flows.
//
// The outside AI workers are a request and its answers rather than a flow
// one way; their own tests (aiworkers_test.go) check the same promises.
func TestConformance(t *testing.T) {
	for _, k := range conformanceKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("OrderAcrossCut", func(t *testing.T) { conformOrderAcrossCut(t, k.setup) })
			t.Run("ResumeAfterKill", func(t *testing.T) { conformResumeAfterKill(t, k.setup) })
			t.Run("RedeliveryNotDuplicated", func(t *testing.T) { conformRedelivery(t, k.setup) })
			t.Run("PoisonToDeadLetters", func(t *testing.T) { conformPoison(t, k.setup) })
		})
	}
}

// conformanceKinds are the kinds the suite runs against.
var conformanceKinds = []struct {
	name  string
	setup func(f *fixture) *side
}{
	{"Commands", commandsSide},
	{"Changes", changesSide},
	{"Members", membersSide},
	{"AIResults", aiResultsSide},
	{"QueueToSubject", queueToSubject},
	{"SubjectToExchange", subjectToExchange},
}

// genericLimit is the body limit (MaxBodyBytes) of the suite's bridges: a
// body over it is poison.
const genericLimit = 1024

// moved is a message as the suite reads it at a mapping's destination.
type moved struct {
	id     string // message_id, Nats-Msg-Id, or the batch's cbid
	body   string
	header string // the test header "x-test", as it arrived
}

// side is one mapping kind as the conformance suite drives it: a source
// the suite sends to, a destination it reads, and the dead-letter queue.
type side struct {
	kind string
	f    *fixture
	// mapping names the mapping's status; m is the generic mapping, for
	// the generic kinds.
	mapping string
	m       bridge.GenericMapping
	// config is the bridge's configuration with only this mapping.
	config func() bridge.Config
	// send sends body at the source with message id id (kept by a queue
	// and by commands; a stream's ids are its own).
	send func(id, body string)
	// open starts reading the destination; called once the bridge is
	// ready (its stream, exchange and queues exist).
	open func()
	// next is the next message at the destination.
	next func(timeout time.Duration) (moved, bool)
	// flush waits until the source has what was sent.
	flush func()
	// again makes the source deliver the messages sent so far once more,
	// as a redelivery would; a source in JetStream calls restart, which
	// restarts the bridge with that consumer put back to the stream's
	// start.
	again func(restart func(stream, consumer string))
	// poison sends what the mapping cannot move and returns it as the
	// dead letter holds it, and a word of the reason; nil sends a body
	// over genericLimit.
	poison func() (body, reason string)
	// deadQueue is the mapping's dead-letter queue.
	deadQueue string
	// sourceQueue is a queue the mapping reads, "" for a stream.
	sourceQueue string
	// records is how many source messages one send makes (what the status
	// counts); with extra, the source holds records of its own besides
	// (the journal's epoch markers), and the counts are at least these.
	records uint64
	extra   bool
	// exactlyOnce: the destination drops duplicates by id itself;
	// otherwise they carry the same id.
	exactlyOnce bool
	// headers: the destination carries the test header x-test.
	headers bool
}

// collector reads a destination and checks what the suite promises: each
// id carries one body, and each body its own test header.
type collector struct {
	t     *testing.T
	s     *side
	order []string          // bodies in the order first seen
	ids   map[string]string // id → body
	seen  map[string]bool   // bodies seen
	dups  int
}

func newCollector(t *testing.T, s *side) *collector {
	return &collector{t: t, s: s, ids: map[string]string{}, seen: map[string]bool{}}
}

// take reads until n distinct bodies have arrived.
func (c *collector) take(n int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.order) < n {
		m, ok := c.s.next(time.Until(deadline))
		if !ok {
			c.t.Fatalf("%d of %d messages arrived in %v (last: %v)", len(c.order), n, timeout, c.order[max(0, len(c.order)-3):])
		}
		c.add(m)
	}
}

func (c *collector) add(m moved) {
	if m.id == "" {
		c.t.Errorf("message %q has no id", m.body)
	}
	if prev, ok := c.ids[m.id]; ok && prev != m.body {
		c.t.Errorf("id %s carried %q, then %q", m.id, prev, m.body)
	}
	c.ids[m.id] = m.body
	if want := "v-id-" + strings.TrimPrefix(m.body, "msg-"); c.s.headers && m.header != want {
		c.t.Errorf("message %q: header x-test %q; want %q", m.body, m.header, want)
	}
	if c.seen[m.body] {
		c.dups++
		return
	}
	c.seen[m.body] = true
	c.order = append(c.order, m.body)
}

// quiet checks that nothing more arrives for a while.
func (c *collector) quiet(d time.Duration) {
	c.t.Helper()
	if m, ok := c.s.next(d); ok {
		c.t.Errorf("got %q (id %s) after the last message; want nothing", m.body, m.id)
	}
}

// inOrder checks that the bodies arrived as sent: body(0), body(1), …
func (c *collector) inOrder() {
	c.t.Helper()
	for i, b := range c.order {
		if b != body(i) {
			c.t.Fatalf("message %d: got %q; want %q (out of order or lost)", i, b, body(i))
		}
	}
}

// counts reports whether a count of the status is what the suite sent.
func (s *side) counts(got, sent uint64) bool { return got == sent || s.extra && got > sent }

func body(i int) string { return "msg-" + strconv.Itoa(i) }

// begin runs a side's mapping alone on a fixture of its own and starts
// reading its destination.
func begin(t *testing.T, setup func(*fixture) *side) (*fixture, *side, *running, *collector) {
	f := newFixture(t)
	s := setup(f)
	r := f.start(s.config())
	s.open()
	return f, s, r, newCollector(t, s)
}

func sendRange(s *side, from, to int) {
	for i := from; i < to; i++ {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
}

func conformOrderAcrossCut(t *testing.T, setup func(*fixture) *side) {
	f, s, r, c := begin(t, setup)
	const n = 300
	sendRange(s, 0, n)
	c.take(n/10, 20*time.Second)
	atCut := genericStatus(t, r, s.mapping).Acked
	f.cut(r) // while the rest of the first half is moving
	sendRange(s, n, 2*n)
	c.take(2*n, 30*time.Second)
	c.inOrder()
	c.quiet(300 * time.Millisecond)
	if s.exactlyOnce && c.dups != 0 {
		t.Errorf("got %d duplicates; want none: the destination drops them by id", c.dups)
	}
	waitStatus(t, r, s.mapping, "every message acked, a reconnect, consuming, no lag", func(st bridge.MappingStatus) bool {
		return st.Acked >= 2*n*s.records && st.Reconnects >= 1 && st.Consuming && !st.LastMoved.IsZero()
	})
	t.Logf("%s: %d messages, cut after %d acked, %d duplicates with their ids", s.kind, 2*n, atCut, c.dups)
}

func conformResumeAfterKill(t *testing.T, setup func(*fixture) *side) {
	f, s, r, c := begin(t, setup)
	const n = 200
	sendRange(s, 0, n)
	c.take(n/10, 20*time.Second)
	r.kill(t) // in the middle: what is in flight is neither finished nor acked
	sendRange(s, n, 2*n)
	r = f.start(s.config())
	c.take(2*n, 30*time.Second)
	c.inOrder()
	c.quiet(300 * time.Millisecond)
	if s.exactlyOnce && c.dups != 0 {
		t.Errorf("got %d duplicates; want none: the destination drops them by id", c.dups)
	}
	waitStatus(t, r, s.mapping, "consuming, no lag", func(st bridge.MappingStatus) bool { return st.Consuming && st.Lag == 0 })
	t.Logf("%s: %d messages across a kill, %d duplicates with their ids", s.kind, 2*n, c.dups)
}

func conformRedelivery(t *testing.T, setup func(*fixture) *side) {
	f, s, r, c := begin(t, setup)
	sendRange(s, 0, 5)
	c.take(5, 20*time.Second)
	before := map[string]string{}
	for id, b := range c.ids {
		before[id] = b
	}
	s.again(func(stream, consumer string) {
		r.shutdown(t)
		if _, err := f.js.ResetConsumerToSequence(context.Background(), stream, consumer, 1); err != nil {
			t.Fatalf("reset the consumer %s on %s: %v", consumer, stream, err)
		}
		r = f.start(s.config())
	})
	sendRange(s, 5, 6)
	if s.exactlyOnce {
		c.take(6, 20*time.Second)
		if c.dups != 0 {
			t.Errorf("got %d duplicates; want none", c.dups)
		}
		waitStatus(t, r, s.mapping, "5 duplicates counted", func(st bridge.MappingStatus) bool { return st.Duplicates == 5 })
	} else {
		for c.dups < 5 {
			m, ok := s.next(20 * time.Second)
			if !ok {
				t.Fatalf("got %d of 5 messages again", c.dups)
			}
			if before[m.id] != m.body && m.body != body(5) {
				t.Errorf("message %q came again with id %s; first with another id", m.body, m.id)
			}
			c.add(m)
		}
		c.take(6, 20*time.Second)
		want := 6 * s.records
		waitStatus(t, r, s.mapping, strconv.FormatUint(want, 10)+" in and acked since the restart", func(st bridge.MappingStatus) bool {
			return s.counts(st.In, want) && s.counts(st.Acked, want)
		})
	}
	if c.order[5] != body(5) {
		t.Errorf("got %v; want %s last", c.order, body(5))
	}
	c.quiet(300 * time.Millisecond)
}

func conformPoison(t *testing.T, setup func(*fixture) *side) {
	f, s, r, c := begin(t, setup)
	s.send("id-0", body(0))
	var poison, reasonWord string
	if s.poison != nil {
		poison, reasonWord = s.poison()
	} else {
		poison, reasonWord = strings.Repeat("p", genericLimit+1), "over the limit"
		s.send("poison", poison)
	}
	s.send("id-1", body(1))
	s.flush()
	c.take(2, 20*time.Second)
	if c.order[0] != body(0) || c.order[1] != body(1) {
		t.Errorf("got %v; want msg-0, msg-1", c.order)
	}
	c.quiet(300 * time.Millisecond)
	var dead []amqp.Delivery
	deadline := time.Now().Add(10 * time.Second)
	for len(dead) == 0 && time.Now().Before(deadline) {
		dead = f.getAll(s.deadQueue)
		time.Sleep(20 * time.Millisecond)
	}
	if len(dead) != 1 {
		t.Fatalf("dead-letter queue %s: got %d messages; want 1", s.deadQueue, len(dead))
	}
	d := dead[0]
	reason, _ := d.Headers[bridge.HeaderReason].(string)
	if string(d.Body) != poison || !strings.Contains(reason, reasonWord) || d.Headers[bridge.HeaderMapping] != s.mapping || d.DeliveryMode != amqp.Persistent {
		t.Errorf("dead letter: body %.40q (%d bytes), mode %d, headers %v; want the poison, persistent, a reason with %q and mapping %s",
			d.Body, len(d.Body), d.DeliveryMode, d.Headers, reasonWord, s.mapping)
	}
	want := 2*s.records + 1
	waitStatus(t, r, s.mapping, "1 dead-lettered, "+strconv.FormatUint(want, 10)+" acked", func(st bridge.MappingStatus) bool {
		return st.DeadLettered == 1 && s.counts(st.Acked, want)
	})
	if got := f.queuedIn(s.sourceQueue); got != 0 {
		t.Errorf("queue %s holds %d messages; want none (no requeue loop)", s.sourceQueue, got)
	}
}

// commandsSide: op batches to the commands queue, read back from the
// canvas's history; a body is the text of the one note a command adds.
// The canvas is the destination that must never apply a command twice.
func commandsSide(f *fixture) *side {
	s := &side{kind: "commands", f: f, mapping: bridge.MappingCommands, records: 1, exactlyOnce: true,
		deadQueue: f.dead, sourceQueue: f.commands, flush: func() {}}
	s.config = func() bridge.Config {
		cfg := f.config()
		cfg.DisableEvents = true
		cfg.MaxBodyBytes = genericLimit
		return cfg
	}
	var sent []struct{ id, body string }
	publish := func(id, text string) {
		f.send(f.ownerToken, cmd(f.canvas, note("n-"+id, text)), func(p *amqp.Publishing) { p.MessageId = id })
	}
	s.send = func(id, text string) {
		sent = append(sent, struct{ id, body string }{id, text})
		publish(id, text)
	}
	s.open = func() {}
	s.next = historyReader(f)
	s.again = func(func(stream, consumer string)) {
		for _, m := range sent {
			publish(m.id, m.body)
		}
	}
	s.poison = func() (string, string) {
		b := cmd(f.canvas, note("n-poison", strings.Repeat("p", genericLimit)))
		f.send(f.ownerToken, b, func(p *amqp.Publishing) { p.MessageId = "poison" })
		return string(b), "payload_too_large"
	}
	return s
}

// historyReader reads the fixture's canvas's batches in seq order: the
// text of each batch's first op, under its cbid.
func historyReader(f *fixture) func(time.Duration) (moved, bool) {
	var since uint64
	var buf []moved
	return func(timeout time.Duration) (moved, bool) {
		deadline := time.Now().Add(timeout)
		for len(buf) == 0 {
			batches, _, err := f.node.Hub.History(context.Background(), f.canvas, since, 500)
			if err != nil {
				f.t.Fatalf("history since %d: %v", since, err)
			}
			for _, raw := range batches {
				var c journal.Committed
				if err := json.Unmarshal(raw, &c); err != nil {
					f.t.Fatalf("batch %s: %v", raw, err)
				}
				since = c.Seq
				var text string
				if len(c.Ops) == 1 {
					_ = json.Unmarshal(c.Ops[0].Data["text"], &text)
				}
				buf = append(buf, moved{id: c.ClientBatchID, body: text})
			}
			if len(buf) == 0 {
				if time.Now().After(deadline) {
					return moved{}, false
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		m := buf[0]
		buf = buf[1:]
		return m, true
	}
}

// eventsConfig is the fixture's bridge with the events mapping alone.
func (f *fixture) eventsConfig() bridge.Config {
	cfg := f.config()
	cfg.DisableCommands = true
	return cfg
}

// deliveries reads d as the suite's destination, body taken by text.
func deliveries(f *fixture, d *<-chan amqp.Delivery, kind string, text func(amqp.Delivery) string) func(time.Duration) (moved, bool) {
	return func(timeout time.Duration) (moved, bool) {
		select {
		case m := <-*d:
			if m.DeliveryMode != amqp.Persistent || m.Type != kind || m.Headers[bridge.HeaderCanvas] != f.canvas {
				f.t.Errorf("event %s: mode %d, type %q, headers %v; want persistent, %s, canvas %s", m.MessageId, m.DeliveryMode, m.Type, m.Headers, kind, f.canvas)
			}
			return moved{id: m.MessageId, body: text(m)}, true
		case <-time.After(timeout):
			return moved{}, false
		}
	}
}

// corruptRecord puts a record that is not JSON on subject, as a journal
// or members stream damaged on disk would hold it: of another canvas, so
// that the fixture's canvas keeps loading.
func corruptRecord(f *fixture, subject string) (string, string) {
	const bad = `{"batches":[`
	if _, err := f.js.Publish(context.Background(), subject, []byte(bad)); err != nil {
		f.t.Fatalf("publish a corrupt record on %s: %v", subject, err)
	}
	return bad, "corrupt"
}

// changesSide: batches committed on the canvas, read from the events
// exchange under canvas.<id>.changes; a body is the text of the note a
// batch adds.
func changesSide(f *fixture) *side {
	s := &side{kind: "changes", f: f, mapping: bridge.MappingEvents, records: 1, extra: true, deadQueue: f.exchange + ".dead",
		config: f.eventsConfig, flush: func() {}}
	s.send = func(id, text string) {
		f.t.Helper()
		op := canvas.Op{Op: canvas.OpNodeAdd, ID: "n-" + id, Kind: "note", Data: map[string]json.RawMessage{"text": jsonString(text)}}
		if _, err := f.node.Hub.Submit(context.Background(), f.canvas, f.owner, id, []canvas.Op{op}); err != nil {
			f.t.Fatalf("submit %s: %v", id, err)
		}
	}
	var d <-chan amqp.Delivery
	s.open = func() { d = f.bindEvents("canvas." + f.canvas + ".changes") }
	s.next = deliveries(f, &d, "changes", func(m amqp.Delivery) string {
		var c journal.Committed
		if err := json.Unmarshal(m.Body, &c); err != nil || len(c.Ops) != 1 {
			f.t.Fatalf("changes event %s: %v", m.Body, err)
		}
		var text string
		_ = json.Unmarshal(c.Ops[0].Data["text"], &text)
		if want := f.canvas + ":" + strconv.FormatUint(c.Seq, 10); m.MessageId != want {
			f.t.Errorf("changes event of seq %d: message id %q; want %q", c.Seq, m.MessageId, want)
		}
		return text
	})
	s.again = func(restart func(stream, consumer string)) { restart(natsname.Default().JournalStream(), f.consumer) }
	s.poison = func() (string, string) {
		return corruptRecord(f, natsname.Default().Journal("00000000-0000-4000-8000-000000000000"))
	}
	return s
}

// membersSide: membership changes recorded for the events out, read from
// the events exchange under canvas.<id>.members; a body is the user.
func membersSide(f *fixture) *side {
	s := &side{kind: "members", f: f, mapping: bridge.MappingEvents, records: 1, deadQueue: f.exchange + ".dead",
		config: f.eventsConfig, flush: func() {}}
	ml := f.memberLog()
	s.send = func(_, user string) {
		ml.MemberEvent(context.Background(), f.canvas, user, bridge.MemberAdded, store.RoleEditor, f.owner)
	}
	var d <-chan amqp.Delivery
	s.open = func() { d = f.bindEvents("canvas." + f.canvas + ".members") }
	s.next = deliveries(f, &d, "members", func(m amqp.Delivery) string {
		var ev bridge.MemberEvent
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			f.t.Fatalf("member event %s: %v", m.Body, err)
		}
		if m.MessageId != bridge.MemberMessageID(ev) {
			f.t.Errorf("member event %s: message id %q; want %q", m.Body, m.MessageId, bridge.MemberMessageID(ev))
		}
		return ev.User
	})
	s.again = func(restart func(stream, consumer string)) {
		restart(natsname.Default().MembersStream(), bridge.MembersConsumer(f.consumer))
	}
	s.poison = func() (string, string) { return corruptRecord(f, natsname.Default().MemberEvents(f.canvas)) }
	return s
}

// aiResultsSide: AI runs that finish on the canvas (a card that runs, then
// its result: two batches each), read from the events exchange under
// canvas.<id>.ai; a body is the answer.
func aiResultsSide(f *fixture) *side {
	s := &side{kind: "ai", f: f, mapping: bridge.MappingEvents, records: 2, extra: true, deadQueue: f.exchange + ".dead",
		config: f.eventsConfig, flush: func() {}}
	s.send = func(id, answer string) {
		f.t.Helper()
		f.runningCard("c-"+id, "run-"+id)
		r := canvases.AIResult{Status: aicard.StatusDone, Text: answer, InputTokens: 3, OutputTokens: 1}
		if err := f.node.Hub.FinishAIRun(context.Background(), f.canvas, "c-"+id, "run-"+id, r); err != nil {
			f.t.Fatalf("finish run-%s: %v", id, err)
		}
	}
	var d <-chan amqp.Delivery
	s.open = func() { d = f.bindEvents("canvas." + f.canvas + ".ai") }
	s.next = deliveries(f, &d, "ai", func(m amqp.Delivery) string {
		var ev bridge.AIEvent
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			f.t.Fatalf("AI event %s: %v", m.Body, err)
		}
		if m.MessageId != bridge.AIMessageID(f.canvas, ev.Seq) || ev.Status != aicard.StatusDone || ev.Run != "run-"+strings.TrimPrefix(ev.Card, "c-") {
			f.t.Errorf("AI event %s: message id %q; want %q, status done, the card's run", m.Body, m.MessageId, bridge.AIMessageID(f.canvas, ev.Seq))
		}
		return ev.Answer
	})
	s.again = func(restart func(stream, consumer string)) { restart(natsname.Default().JournalStream(), f.consumer) }
	s.poison = func() (string, string) {
		return corruptRecord(f, natsname.Default().Journal("00000000-0000-4000-8000-000000000000"))
	}
	return s
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
