package bridge_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/testkit"
)

// genericLimit is the body limit (MaxBodyBytes) of the suite's bridges: a
// body over it is poison.
const genericLimit = 1024

// moved is a message as the suite reads it at a mapping's destination.
type moved struct {
	id     string // message_id, or Nats-Msg-Id
	body   string
	header string // the test header "x-test", as it arrived
}

// genericSide is one kind of generic mapping as the conformance suite
// drives it: a source the suite publishes to, a destination it reads,
// and the dead-letter queue.
type genericSide struct {
	kind string
	f    *fixture
	m    bridge.GenericMapping
	// send publishes body at the source with message id id (kept by a
	// queue; a stream's message ids are its own) and the test header.
	send func(id, body string)
	// open starts reading the destination; called once the bridge is
	// ready (its stream, exchange and queues exist).
	open func()
	// next is the next message at the destination.
	next func(timeout time.Duration) (moved, bool)
	// flush waits until the source has what was sent.
	flush func()
	// again makes the source deliver the messages sent so far once more,
	// as a redelivery would: restart restarts the bridge.
	again func(restart func())
	// exactlyOnce: the destination drops duplicates by id itself
	// (JetStream's duplicate window); otherwise they carry the same id.
	exactlyOnce bool
}

// genericKinds are the kinds the suite runs against.
var genericKinds = []struct {
	name  string
	setup func(f *fixture) *genericSide
}{
	{"QueueToSubject", queueToSubject},
	{"SubjectToExchange", subjectToExchange},
}

func genericBase(f *fixture) (name, token string) {
	id := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	return "g-" + id, "t" + id
}

func (f *fixture) deleteQueues(names ...string) {
	f.t.Cleanup(func() {
		ch, err := f.rabbit.Channel()
		if err != nil {
			return
		}
		defer ch.Close()
		for _, n := range names {
			_, _ = ch.QueueDelete(n, false, false, false)
		}
	})
}

func queueToSubject(f *fixture) *genericSide {
	name, tok := genericBase(f)
	s := &genericSide{kind: "in", f: f, exactlyOnce: true, flush: func() {}, m: bridge.GenericMapping{
		Name: name, FromQueue: "sker-test." + tok, ToSubject: "sker.ext." + tok,
	}}
	f.deleteQueues(s.m.FromQueue, s.m.FromQueue+".dead")
	var sent []amqp.Publishing
	s.send = func(id, body string) {
		f.t.Helper()
		p := amqp.Publishing{MessageId: id, Body: []byte(body), DeliveryMode: amqp.Persistent, ContentType: "text/plain",
			Headers: amqp.Table{"x-test": "v-" + id}}
		sent = append(sent, p)
		if err := f.admin.PublishWithContext(context.Background(), "", s.m.FromQueue, false, false, p); err != nil {
			f.t.Fatalf("publish: %v", err)
		}
	}
	var msgs jetstream.MessagesContext
	s.open = func() {
		f.t.Helper()
		cons, err := f.js.OrderedConsumer(context.Background(), bridge.GenericStream(natsname.DefaultPrefix, name), jetstream.OrderedConsumerConfig{})
		if err != nil {
			f.t.Fatalf("read the stream: %v", err)
		}
		if msgs, err = cons.Messages(); err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(msgs.Stop)
	}
	s.next = func(timeout time.Duration) (moved, bool) {
		got := make(chan jetstream.Msg, 1)
		go func() {
			if m, err := msgs.Next(); err == nil {
				got <- m
			}
		}()
		select {
		case m := <-got:
			if m.Headers().Get(bridge.NATSHeaderContentType) != "text/plain" {
				f.t.Errorf("message %q: Content-Type %q; want text/plain", m.Data(), m.Headers().Get(bridge.NATSHeaderContentType))
			}
			return moved{id: m.Headers().Get(jetstream.MsgIDHeader), body: string(m.Data()), header: m.Headers().Get("x-test")}, true
		case <-time.After(timeout):
			return moved{}, false
		}
	}
	s.again = func(func()) {
		for _, p := range sent {
			if err := f.admin.PublishWithContext(context.Background(), "", s.m.FromQueue, false, false, p); err != nil {
				f.t.Fatalf("publish again: %v", err)
			}
		}
	}
	return s
}

func subjectToExchange(f *fixture) *genericSide {
	name, tok := genericBase(f)
	s := &genericSide{kind: "out", f: f, m: bridge.GenericMapping{
		Name: name, FromSubject: "sker.ext." + tok + ".>", ToExchange: "sker-test." + tok,
		RoutingKey: "out.{{subject 3}}.{{header x-kind}}",
	}}
	f.deleteQueues(s.m.ToExchange + ".dead")
	f.t.Cleanup(func() {
		if ch, err := f.rabbit.Channel(); err == nil {
			_ = ch.ExchangeDelete(s.m.ToExchange, false, false)
			_ = ch.Close()
		}
	})
	s.send = func(id, body string) {
		f.t.Helper()
		msg := &nats.Msg{Subject: "sker.ext." + tok + ".m", Data: []byte(body), Header: nats.Header{}}
		msg.Header.Set("x-test", "v-"+id)
		msg.Header.Set("x-kind", "note")
		msg.Header.Set(bridge.NATSHeaderContentType, "text/plain")
		// Async: the messages pile up in the stream faster than the
		// bridge moves them, as they would under load.
		if _, err := f.js.PublishMsgAsync(msg); err != nil {
			f.t.Fatalf("publish to JetStream: %v", err)
		}
	}
	s.flush = func() {
		f.t.Helper()
		select {
		case <-f.js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			f.t.Fatal("JetStream did not ack the messages in 10s")
		}
	}
	var d <-chan amqp.Delivery
	s.open = func() {
		f.t.Helper()
		ch, err := f.rabbit.Channel()
		if err != nil {
			f.t.Fatal(err)
		}
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := ch.QueueBind(q.Name, "out.#", s.m.ToExchange, false, nil); err != nil {
			f.t.Fatal(err)
		}
		if d, err = ch.Consume(q.Name, "", true, true, false, false, nil); err != nil {
			f.t.Fatal(err)
		}
	}
	s.next = func(timeout time.Duration) (moved, bool) {
		select {
		case m := <-d:
			if m.RoutingKey != "out."+tok+".note" || m.ContentType != "text/plain" || m.DeliveryMode != amqp.Persistent {
				f.t.Errorf("message %q: routing key %q, content type %q, delivery mode %d; want out.%s.note, text/plain, persistent",
					m.Body, m.RoutingKey, m.ContentType, m.DeliveryMode, tok)
			}
			h, _ := m.Headers["x-test"].(string)
			return moved{id: m.MessageId, body: string(m.Body), header: h}, true
		case <-time.After(timeout):
			return moved{}, false
		}
	}
	s.again = func(restart func()) {
		// Put the consumer back to the stream's start while no bridge
		// runs: every message comes again, as after a lost ack.
		restart()
	}
	return s
}

// genericConfig is the fixture's bridge with only the mapping m.
func (f *fixture) genericConfig(m bridge.GenericMapping) bridge.Config {
	cfg := f.config()
	cfg.DisableCommands, cfg.DisableEvents = true, true
	cfg.Generic = []bridge.GenericMapping{m}
	cfg.MaxBodyBytes = genericLimit
	return cfg
}

func genericStatus(t *testing.T, r *running, name string) bridge.MappingStatus {
	t.Helper()
	for _, m := range r.Status().Mappings {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no mapping %s in %+v", name, r.Status())
	return bridge.MappingStatus{}
}

// waitStatus waits until the mapping's status meets ok (the acks trail
// the messages a little), and fails the test after 10s.
func waitStatus(t *testing.T, r *running, name, want string, ok func(bridge.MappingStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := genericStatus(t, r, name)
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v; want %s", st, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collector reads a destination and checks what the suite promises: each
// id carries one body, and each body its own test header.
type collector struct {
	t     *testing.T
	s     *genericSide
	order []string          // bodies in the order first seen
	ids   map[string]string // id → body
	seen  map[string]bool   // bodies seen
	dups  int
}

func newCollector(t *testing.T, s *genericSide) *collector {
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
	if want := "v-id-" + strings.TrimPrefix(m.body, "msg-"); m.header != want {
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

func body(i int) string { return "msg-" + strconv.Itoa(i) }

// TestGenericConformance runs the suite against each kind of generic
// mapping.
func TestGenericConformance(t *testing.T) {
	for _, k := range genericKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("OrderAcrossCut", func(t *testing.T) { genericOrderAcrossCut(t, k.setup) })
			t.Run("RedeliveryNotDuplicated", func(t *testing.T) { genericRedelivery(t, k.setup) })
			t.Run("PoisonToDeadLetters", func(t *testing.T) { genericPoison(t, k.setup) })
		})
	}
}

// genericOrderAcrossCut: messages sent before and after a cut of the
// bridge's connection all arrive, in the order sent, with their headers.
func genericOrderAcrossCut(t *testing.T, setup func(*fixture) *genericSide) {
	f := newFixture(t)
	s := setup(f)
	r := f.start(f.genericConfig(s.m))
	s.open()
	c := newCollector(t, s)
	const n = 300
	for i := range n {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
	c.take(n/10, 20*time.Second)
	atCut := genericStatus(t, r, s.m.Name).Acked
	f.cut(r) // while the rest of the first half is moving
	for i := n; i < 2*n; i++ {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
	c.take(2*n, 30*time.Second)
	for i, b := range c.order {
		if b != body(i) {
			t.Fatalf("message %d: got %q; want %q (out of order or lost)", i, b, body(i))
		}
	}
	c.quiet(300 * time.Millisecond)
	if s.exactlyOnce && c.dups != 0 {
		t.Errorf("got %d duplicates; want none: the destination drops them by id", c.dups)
	}
	waitStatus(t, r, s.m.Name, "every message acked, a reconnect, consuming", func(st bridge.MappingStatus) bool {
		return st.Acked >= 2*n && st.Reconnects >= 1 && st.Consuming
	})
	t.Logf("%s: %d messages, cut after %d acked, %d duplicates with their ids", s.kind, 2*n, atCut, c.dups)
}

// genericRedelivery: messages delivered again by the source are dropped
// by id (JetStream) or come again with the same id (RabbitMQ); what is
// sent afterwards still flows.
func genericRedelivery(t *testing.T, setup func(*fixture) *genericSide) {
	f := newFixture(t)
	s := setup(f)
	cfg := f.genericConfig(s.m)
	r := f.start(cfg)
	s.open()
	c := newCollector(t, s)
	for i := range 5 {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
	c.take(5, 20*time.Second)
	before := map[string]string{}
	for id, b := range c.ids {
		before[id] = b
	}
	s.again(func() {
		r.shutdown(t)
		stream := bridge.GenericStream(natsname.DefaultPrefix, s.m.Name)
		if _, err := f.js.ResetConsumerToSequence(context.Background(), stream, bridge.GenericConsumer(s.m.Name), 1); err != nil {
			t.Fatalf("reset the consumer: %v", err)
		}
		r = f.start(cfg)
	})
	s.send("id-5", body(5))
	s.flush()
	if s.exactlyOnce {
		c.take(6, 20*time.Second)
		if c.dups != 0 {
			t.Errorf("got %d duplicates; want none", c.dups)
		}
		waitStatus(t, r, s.m.Name, "5 duplicates counted", func(st bridge.MappingStatus) bool { return st.Duplicates == 5 })
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
		waitStatus(t, r, s.m.Name, "6 in and acked since the restart", func(st bridge.MappingStatus) bool { return st.In == 6 && st.Acked == 6 })
	}
	if c.order[5] != body(5) {
		t.Errorf("got %v; want %s last", c.order, body(5))
	}
	c.quiet(300 * time.Millisecond)
}

// genericPoison: a message over the limit goes to the dead-letter queue
// with its reason and mapping, is acked, and the next one still flows.
func genericPoison(t *testing.T, setup func(*fixture) *genericSide) {
	f := newFixture(t)
	s := setup(f)
	r := f.start(f.genericConfig(s.m))
	s.open()
	c := newCollector(t, s)
	s.send("id-0", body(0))
	poison := strings.Repeat("p", genericLimit+1)
	s.send("poison", poison)
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
		dead = f.getAll(s.deadLetterQueue())
		time.Sleep(20 * time.Millisecond)
	}
	if len(dead) != 1 {
		t.Fatalf("dead-letter queue: got %d messages; want 1", len(dead))
	}
	d := dead[0]
	reason, _ := d.Headers[bridge.HeaderReason].(string)
	if string(d.Body) != poison || !strings.Contains(reason, "over the limit") || d.Headers[bridge.HeaderMapping] != s.m.Name {
		t.Errorf("dead letter: body of %d bytes, headers %v; want the poison, its reason and mapping %s", len(d.Body), d.Headers, s.m.Name)
	}
	waitStatus(t, r, s.m.Name, "1 dead-lettered, 3 acked", func(st bridge.MappingStatus) bool { return st.DeadLettered == 1 && st.Acked == 3 })
	if got := f.queuedIn(s.m.FromQueue); s.kind == "in" && got != 0 {
		t.Errorf("queue %s holds %d messages; want none (no requeue loop)", s.m.FromQueue, got)
	}
}

func (s *genericSide) deadLetterQueue() string {
	if s.m.FromQueue != "" {
		return s.m.FromQueue + ".dead"
	}
	return s.m.ToExchange + ".dead"
}

// getAll takes every message from a queue.
func (f *fixture) getAll(queue string) []amqp.Delivery {
	f.t.Helper()
	ch, err := f.rabbit.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			f.t.Fatalf("get %s: %v", queue, err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// queuedIn is the messages of a queue, ready or unacked; 0 for none.
func (f *fixture) queuedIn(queue string) int {
	if queue == "" {
		return 0
	}
	return f.queued(queue)
}

// TestGenericBadConfig: a bad file is an error naming the file, the
// mapping and the field, for either kind; bridge.New refuses a mapping
// into SKER's own subjects.
func TestGenericBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"mappings:\n  - name: a\n    from_queue: q\n    to_subject: x.y\n    colour: red\n", `unknown field "colour"`},
		{"mappings:\n  - name: a\n    from_queue: q\n    to_subject: x.*\n", "mappings[0] (a): to_subject: wildcard"},
		{"mappings:\n  - name: Big\n    from_queue: q\n    to_subject: x\n", "mappings[0] (Big): name"},
		{"mappings:\n  - name: a\n    from_queue: q\n    to_subject: x\n  - name: a\n    from_subject: y\n    to_exchange: e\n", "mappings[1] (a): name: used by another mapping"},
		{"mappings:\n  - name: o\n    from_subject: a.>\n    to_exchange: e\n    routing_key: '{{nope}}'\n", "mappings[0] (o): routing_key: "},
		{"mappings:\n  - name: o\n    from_subject: a.>.b\n    to_exchange: e\n", "mappings[0] (o): from_subject: '>'"},
		{"mappings:\n  - name: o\n    from_subject: a\n    to_exchange: amq.x\n", "mappings[0] (o): to_exchange:"},
		{"mappings:\n  - name: o\n    from_subject: a\n    from_queue: q\n    to_exchange: e\n", "from_queue, from_subject: set one, not both"},
		{"mappings:\n  - name: o\n    from_queue: q\n    to_subject: a\n    routing_key: k\n", "mappings[0] (o): to_exchange, routing_key"},
		{"mappings:\n  - name: a\n    name: b\n    from_queue: q\n    to_subject: x\n", "already set"},
		{"mappings: []\n", "want at least one mapping"},
	} {
		path := dir + "/" + uuid.NewString() + ".yaml"
		writeFile(t, path, tc.yaml)
		_, err := bridge.LoadGenericConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: got %v; want an error naming %s and %q", tc.yaml, err, path, tc.want)
		}
	}
	missing := dir + "/none.yaml"
	if _, err := bridge.LoadGenericConfig(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: got %v; want an error naming it", err)
	}
	ok := dir + "/ok.yaml"
	writeFile(t, ok, "mappings:\n  - name: orders-in\n    from_queue: orders\n    to_subject: sker.journal.x\n")
	ms, err := bridge.LoadGenericConfig(ok)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].DeadLetterQueue != "orders.dead" {
		t.Errorf("dead_letter_queue: got %q; want orders.dead", ms[0].DeadLetterQueue)
	}
	_, js := testkit.Connect(t, testkit.NATSServer(t))
	_, err = bridge.New(context.Background(), bridge.Config{URL: "amqp://h/", DisableCommands: true, DisableEvents: true, Generic: ms, JS: js})
	if err == nil || !strings.Contains(err.Error(), "to_subject") || !strings.Contains(err.Error(), "orders-in") {
		t.Errorf("a mapping into the journal: got %v; want an error naming orders-in and to_subject", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
