package bridge_test

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/natsname"
)

// A command with reply_to and correlation_id is applied to the canvas,
// answered with its seq under the same correlation id, and acked.
func TestCommandApplied(t *testing.T) {
	f := newFixture(t)
	b := f.start(f.config())
	replyTo, replies := f.replyQueue()
	f.send(f.ownerToken, cmd(f.canvas, note("n1", "from RabbitMQ")), func(p *amqp.Publishing) {
		p.ReplyTo, p.CorrelationId, p.MessageId = replyTo, "corr-1", "m-1"
	})
	r := f.nextReply(replies)
	if r.Type != "ack" || r.Seq != 1 || r.correlationID != "corr-1" || r.Canvas != f.canvas || r.CBID != "m-1" {
		t.Errorf("got reply %+v; want an ack of seq 1 for canvas %s, cbid m-1, correlation id corr-1", r, f.canvas)
	}
	ex, err := f.node.Hub.Snapshot(context.Background(), f.canvas)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Nodes) != 1 || ex.Nodes[0].ID != "n1" || ex.Nodes[0].Author != f.owner {
		t.Errorf("got nodes %+v; want n1 by the token's user %s", ex.Nodes, f.owner)
	}
	b.shutdown(t)
	if n := f.queued(f.commands); n != 0 {
		t.Errorf("got %d messages back in the queue after shutdown; want 0 (the command acked)", n)
	}
	st := b.Status().Mappings[0]
	if st.Name != bridge.MappingCommands || st.In != 1 || st.Acked != 1 || st.DeadLettered != 0 {
		t.Errorf("got status %+v; want commands in 1, acked 1, none dead-lettered", st)
	}
}

// Each command that cannot be applied is answered with the code REST
// gives, copied to the dead-letter queue with the reason, and acked, not
// requeued; a good command behind them still flows.
func TestCommandRejected(t *testing.T) {
	f := newFixture(t)
	b := f.start(f.config())
	replyTo, replies := f.replyQueue()
	unknown := "0190d1c4-5b7c-7000-8000-000000000000"
	tests := []struct {
		name  string
		token string
		body  string
		code  string
	}{
		{"invalid op", f.ownerToken, `{"canvas":"` + f.canvas + `","ops":[{"op":"node.add","id":"x","kind":"note","x":"left"}]}`, apierr.CodeInvalidOp},
		{"unknown node", f.ownerToken, string(cmd(f.canvas, `{"op":"node.delete","id":"nope"}`)), apierr.CodeUnknownID},
		{"viewer token", f.viewerToken, string(cmd(f.canvas, note("v1", "viewer"))), "forbidden"},
		{"unknown canvas", f.ownerToken, string(cmd(unknown, note("u1", "nowhere"))), "not_found"},
		{"malformed canvas id", f.ownerToken, string(cmd("not-a-uuid", note("u2", "nowhere"))), "not_found"},
		{"bad token", "sker_not-a-token", string(cmd(f.canvas, note("b1", "bad"))), "unauthorized"},
		{"no token", "", string(cmd(f.canvas, note("b2", "none"))), "unauthorized"},
		{"invalid JSON", f.ownerToken, `{"canvas":`, "bad_request"},
		{"unknown field", f.ownerToken, `{"canvas":"` + f.canvas + `","ops":[],"extra":1}`, "bad_request"},
		{"invalid text", f.ownerToken, "{\"canvas\":\"" + f.canvas + "\",\"cbid\":\"a\\u0000b\",\"ops\":[]}", "invalid_text"},
		{"empty batch", f.ownerToken, string(cmd(f.canvas)), apierr.CodeEmptyBatch},
	}
	for _, tt := range tests {
		f.send(tt.token, []byte(tt.body), func(p *amqp.Publishing) { p.ReplyTo, p.CorrelationId = replyTo, tt.name })
	}
	f.send(f.ownerToken, cmd(f.canvas, note("good", "behind the poison")), func(p *amqp.Publishing) {
		p.ReplyTo, p.CorrelationId = replyTo, "good"
	})
	got := map[string]reply{}
	for range len(tests) + 1 {
		r := f.nextReply(replies)
		got[r.correlationID] = r
	}
	for _, tt := range tests {
		if r := got[tt.name]; r.Type != "reject" || r.Code != tt.code {
			t.Errorf("%s: got reply %+v; want a reject with code %s", tt.name, r, tt.code)
		}
	}
	if r := got["good"]; r.Type != "ack" || r.Seq != 1 {
		t.Errorf("good command behind the rejected ones: got %+v; want an ack of seq 1", r)
	}
	if s := f.seq(); s != 1 {
		t.Errorf("got canvas seq %d; want 1 (only the good command applied)", s)
	}
	b.shutdown(t)
	if n := f.queued(f.commands); n != 0 {
		t.Errorf("got %d messages back in the queue; want 0 (rejected commands are acked, not requeued)", n)
	}
	dead := map[string]amqp.Delivery{}
	for _, d := range f.deadLetters() {
		dead[d.CorrelationId] = d
	}
	if len(dead) != len(tests) {
		t.Errorf("got %d dead letters; want %d", len(dead), len(tests))
	}
	for _, tt := range tests {
		d, ok := dead[tt.name]
		if !ok {
			t.Errorf("%s: not in the dead-letter queue", tt.name)
			continue
		}
		if d.Headers[bridge.HeaderCode] != tt.code || d.Headers[bridge.HeaderQueue] != f.commands || d.Headers[bridge.HeaderMessage] == "" {
			t.Errorf("%s: got dead-letter headers %v; want code %s, queue %s and a message", tt.name, d.Headers, tt.code, f.commands)
		}
		if _, ok := d.Headers["authorization"]; ok {
			t.Errorf("%s: the dead letter kept the authorization header", tt.name)
		}
		if string(d.Body) != tt.body {
			t.Errorf("%s: got dead-letter body %q; want the command's %q", tt.name, d.Body, tt.body)
		}
	}
}

// A command delivered again with the same message_id is answered with the
// first outcome and not applied twice, whether it was committed or
// rejected the first time.
func TestCommandRedeliveredOnce(t *testing.T) {
	f := newFixture(t)
	f.start(f.config())
	replyTo, replies := f.replyQueue()
	props := func(id string) func(*amqp.Publishing) {
		return func(p *amqp.Publishing) { p.ReplyTo, p.MessageId = replyTo, id }
	}
	body := cmd(f.canvas, note("n1", "once"))
	f.send(f.ownerToken, body, props("m-commit"))
	first := f.nextReply(replies)
	f.send(f.ownerToken, body, props("m-commit"))
	second := f.nextReply(replies)
	if first.Type != "ack" || second != first {
		t.Errorf("got replies %+v then %+v; want the same ack twice", first, second)
	}
	if s := f.seq(); s != 1 {
		t.Errorf("got canvas seq %d after the same command twice; want 1", s)
	}

	// Rejected first (n2 does not exist yet), then n2 is made: the
	// command delivered again is still rejected, as the first time.
	update := cmd(f.canvas, `{"op":"node.update","id":"n2","set":{"x":5}}`)
	f.send(f.ownerToken, update, props("m-reject"))
	if r := f.nextReply(replies); r.Type != "reject" || r.Code != apierr.CodeUnknownID {
		t.Fatalf("got %+v; want a reject unknown_id", r)
	}
	f.send(f.ownerToken, cmd(f.canvas, note("n2", "now here")), props("m-make"))
	if r := f.nextReply(replies); r.Type != "ack" || r.Seq != 2 {
		t.Fatalf("got %+v; want an ack of seq 2", r)
	}
	f.send(f.ownerToken, update, props("m-reject"))
	if r := f.nextReply(replies); r.Type != "reject" || r.Code != apierr.CodeUnknownID {
		t.Errorf("delivered again: got %+v; want the first outcome, a reject unknown_id", r)
	}
	if s := f.seq(); s != 2 {
		t.Errorf("got canvas seq %d; want 2", s)
	}
}

// A command delivered again to a bridge that has restarted (and so
// remembers nothing) is not applied twice: the canvas knows its batch by
// the client batch id the bridge derived from message_id.
func TestCommandRedeliveredAfterRestart(t *testing.T) {
	f := newFixture(t)
	a := f.start(f.config())
	replyTo, replies := f.replyQueue()
	body := cmd(f.canvas, note("n1", "once"))
	props := func(p *amqp.Publishing) { p.ReplyTo, p.MessageId = replyTo, "m-restart" }
	f.send(f.ownerToken, body, props)
	first := f.nextReply(replies)
	a.shutdown(t)
	f.start(f.config())
	f.send(f.ownerToken, body, props)
	second := f.nextReply(replies)
	if first.Type != "ack" || second != first {
		t.Errorf("got replies %+v then %+v; want the same ack twice", first, second)
	}
	if s := f.seq(); s != 1 {
		t.Errorf("got canvas seq %d; want 1", s)
	}
}

// A command whose canvas stays unavailable is tried MaxAttempts times,
// then rejected with unavailable and dead-lettered with the number of
// attempts: it never loops in the queue.
func TestCommandGivesUpAfterAttempts(t *testing.T) {
	f := newFixture(t)
	// A record that is not JSON: the canvas cannot load, so it is
	// unavailable, and stays so.
	if _, err := f.js.Publish(context.Background(), natsname.Default().Journal(f.canvas), []byte("not a record")); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.MaxAttempts = 3
	b := f.start(cfg)
	replyTo, replies := f.replyQueue()
	f.send(f.ownerToken, cmd(f.canvas, note("n1", "never")), func(p *amqp.Publishing) { p.ReplyTo, p.MessageId = replyTo, "m-1" })
	if r := f.nextReply(replies); r.Type != "reject" || r.Code != "unavailable" {
		t.Errorf("got %+v; want a reject unavailable", r)
	}
	b.shutdown(t)
	dead := f.deadLetters()
	if len(dead) != 1 {
		t.Fatalf("got %d dead letters; want 1", len(dead))
	}
	if h := dead[0].Headers; h[bridge.HeaderAttempts] != int32(3) || h[bridge.HeaderCode] != "unavailable" {
		t.Errorf("got dead-letter headers %v; want code unavailable after 3 attempts", h)
	}
	if n := f.queued(f.commands); n != 0 {
		t.Errorf("got %d messages back in the queue; want 0", n)
	}
}

// A viewer's API token drives comments through the bridge as over REST:
// a batch of comment ops commits, with the viewer as its author.
func TestCommandViewerComments(t *testing.T) {
	f := newFixture(t)
	f.start(f.config())
	replyTo, replies := f.replyQueue()
	comment := `{"op":"comment.add","id":"c1","x":5,"y":5,"text":"from RabbitMQ"}`
	f.send(f.viewerToken, cmd(f.canvas, comment), func(p *amqp.Publishing) { p.ReplyTo, p.CorrelationId = replyTo, "c" })
	if r := f.nextReply(replies); r.Type != "ack" || r.Seq != 1 {
		t.Fatalf("viewer's comment: got %+v; want an ack of seq 1", r)
	}
	ex, err := f.node.Hub.Snapshot(context.Background(), f.canvas)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Comments) != 1 || ex.Comments[0].Text != "from RabbitMQ" || ex.Comments[0].Author == f.owner {
		t.Errorf("got comments %+v; want c1 by the viewer", ex.Comments)
	}
}
