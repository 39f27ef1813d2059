package bridge_test

import (
	"context"
	"os"
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

func queueToSubject(f *fixture) *side {
	name, tok := genericBase(f)
	m := bridge.GenericMapping{Name: name, FromQueue: "sker-test." + tok, ToSubject: "sker.ext." + tok}
	s := &side{kind: "in", f: f, m: m, mapping: name, records: 1, exactlyOnce: true, headers: true, flush: func() {},
		config: func() bridge.Config { return f.genericConfig(m) }, deadQueue: m.FromQueue + ".dead", sourceQueue: m.FromQueue}
	f.deleteQueues(m.FromQueue, m.FromQueue+".dead")
	var sent []amqp.Publishing
	s.send = func(id, body string) {
		f.t.Helper()
		p := amqp.Publishing{MessageId: id, Body: []byte(body), DeliveryMode: amqp.Persistent, ContentType: "text/plain",
			Headers: amqp.Table{"x-test": "v-" + id}}
		sent = append(sent, p)
		if err := f.admin.PublishWithContext(context.Background(), "", m.FromQueue, false, false, p); err != nil {
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
	s.again = func(func(stream, consumer string)) {
		for _, p := range sent {
			if err := f.admin.PublishWithContext(context.Background(), "", m.FromQueue, false, false, p); err != nil {
				f.t.Fatalf("publish again: %v", err)
			}
		}
	}
	return s
}

func subjectToExchange(f *fixture) *side {
	name, tok := genericBase(f)
	m := bridge.GenericMapping{
		Name: name, FromSubject: "sker.ext." + tok + ".>", ToExchange: "sker-test." + tok,
		RoutingKey: "out.{{subject 3}}.{{header x-kind}}",
	}
	s := &side{kind: "out", f: f, m: m, mapping: name, records: 1, headers: true,
		config: func() bridge.Config { return f.genericConfig(m) }, deadQueue: m.ToExchange + ".dead"}
	f.deleteQueues(m.ToExchange + ".dead")
	f.t.Cleanup(func() {
		if ch, err := f.rabbit.Channel(); err == nil {
			_ = ch.ExchangeDelete(m.ToExchange, false, false)
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
		if err := ch.QueueBind(q.Name, "out.#", m.ToExchange, false, nil); err != nil {
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
	s.again = func(restart func(stream, consumer string)) {
		restart(bridge.GenericStream(natsname.DefaultPrefix, name), bridge.GenericConsumer(name))
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
