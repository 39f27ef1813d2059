package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/testkit/testnode"
)

// fixture is a whole node, a canvas with an owner and a viewer (each with
// an API token), the machine's RabbitMQ reached through a proxy the test
// can cut, and topology names of the test's own.
type fixture struct {
	t      *testing.T
	node   *testnode.Node
	js     jetstream.JetStream
	rabbit *amqp.Connection // the test's own connection, never cut
	admin  *amqp.Channel
	proxy  *testkit.Proxy
	url    string // RabbitMQ through the proxy

	commands, dead, exchange, consumer string

	canvas, owner, ownerToken, viewerToken string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	direct := testkit.RabbitMQURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, node: testnode.StartNode(t, testnode.NodeConfig{}), rabbit: testkit.RabbitMQ(t)}
	f.proxy = testkit.StartProxy(t, u.Host)
	u.Host = f.proxy.Addr()
	f.url = u.String()
	if f.js, err = jetstream.New(f.node.Conn); err != nil {
		t.Fatal(err)
	}
	if f.admin, err = f.rabbit.Channel(); err != nil {
		t.Fatal(err)
	}
	base := testkit.UniqueName("sker-test")
	f.commands, f.dead, f.exchange = base+".commands", base+".dead", base+".events"
	f.consumer = "bridge-" + strings.ReplaceAll(base, ".", "-")
	t.Cleanup(func() {
		ch, err := f.rabbit.Channel() // the admin channel may have closed on an error
		if err != nil {
			return
		}
		defer ch.Close()
		_, _ = ch.QueueDelete(f.commands, false, false, false)
		_, _ = ch.QueueDelete(f.dead, false, false, false)
		_, _ = ch.QueueDelete(f.exchange+".dead", false, false, false)
		_ = ch.ExchangeDelete(f.exchange, false, false)
	})
	ctx := context.Background()
	owner := f.register("owner")
	viewer := f.register("viewer")
	f.owner = owner.ID
	f.canvas = uuid.NewString()
	now := time.Now().UTC()
	c := store.Canvas{ID: f.canvas, Title: "Bridge", Settings: json.RawMessage(`{}`), CreatedBy: owner.ID, CreatedAt: now, UpdatedAt: now}
	if err := f.node.Store.CreateCanvas(ctx, c, owner.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.node.Store.AddMember(ctx, f.canvas, viewer.ID, store.RoleViewer, now); err != nil {
		t.Fatal(err)
	}
	f.ownerToken = f.apiToken(owner.ID)
	f.viewerToken = f.apiToken(viewer.ID)
	return f
}

func (f *fixture) register(name string) store.User {
	f.t.Helper()
	s, err := f.node.Auth.Register(context.Background(), name+"-"+uuid.NewString()[:8]+"@example.test", "password-"+name, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return s.User
}

func (f *fixture) apiToken(userID string) string {
	f.t.Helper()
	_, tok, err := f.node.Auth.CreateAPIToken(context.Background(), userID, "bridge", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// config is the bridge's configuration for the fixture: through the
// proxy, quick to reconnect.
func (f *fixture) config() bridge.Config {
	return bridge.Config{
		URL: f.url, Logger: testkit.Logger(),
		Canvases: f.node.Hub, Auth: f.node.Auth, Roles: f.node.Store,
		CommandsQueue: f.commands, DeadLetterQueue: f.dead,
		JS: f.js, EventsExchange: f.exchange, EventsConsumer: f.consumer,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
	}
}

// running is a bridge running in the test.
type running struct {
	*bridge.Bridge
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs a bridge with cfg and waits until it is ready. It shuts down
// when the test ends, if the test has not stopped it.
func (f *fixture) start(cfg bridge.Config) *running {
	f.t.Helper()
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	b, err := bridge.New(context.Background(), cfg)
	if err != nil {
		f.t.Fatalf("bridge.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Bridge: b, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	f.t.Cleanup(func() { r.shutdown(f.t) })
	f.waitReady(r)
	return r
}

func (f *fixture) waitReady(r *running) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := r.Ready(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("bridge not ready after 15s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cut closes the bridge's connection as a network failure would and waits
// until the bridge has connected again and is ready.
func (f *fixture) cut(r *running) {
	f.t.Helper()
	before := r.Status().Connects
	if n := f.proxy.Cut(); n == 0 {
		f.t.Fatal("cut: the bridge had no connection through the proxy")
	}
	deadline := time.Now().Add(15 * time.Second)
	for r.Status().Connects <= before || r.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			f.t.Fatalf("bridge not back 15s after a cut: %+v", r.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shutdown drains the bridge and waits for Run to return.
func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		r.cancel()
	})
}

// kill ends the bridge at once, as a process that dies would: nothing in
// flight is finished or acked.
func (r *running) kill(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// replyQueue declares a queue of the test's own for replies, deleted with
// the test's connection.
func (f *fixture) replyQueue() (string, <-chan amqp.Delivery) {
	f.t.Helper()
	ch, err := f.rabbit.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return q.Name, d
}

// send publishes a command as a client would, with the token (none when
// empty) and the properties set by props.
func (f *fixture) send(token string, body []byte, props func(*amqp.Publishing)) {
	f.t.Helper()
	p := amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body, Headers: amqp.Table{}}
	if token != "" {
		p.Headers["authorization"] = "Bearer " + token
	}
	if props != nil {
		props(&p)
	}
	if err := f.admin.PublishWithContext(context.Background(), "", f.commands, false, false, p); err != nil {
		f.t.Fatalf("publish: %v", err)
	}
}

// reply is a decoded reply.
type reply struct {
	Type    string `json:"type"`
	Canvas  string `json:"canvas"`
	CBID    string `json:"cbid"`
	Seq     uint64 `json:"seq"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Index   *int   `json:"index"`

	correlationID string
}

func (f *fixture) nextReply(ch <-chan amqp.Delivery) reply {
	f.t.Helper()
	select {
	case d := <-ch:
		return f.decode(d)
	case <-time.After(20 * time.Second):
		f.t.Fatalf("no reply in 20s")
		return reply{}
	}
}

func (f *fixture) decode(d amqp.Delivery) reply {
	f.t.Helper()
	var r reply
	if err := json.Unmarshal(d.Body, &r); err != nil {
		f.t.Fatalf("reply %q: %v", d.Body, err)
	}
	r.correlationID = d.CorrelationId
	return r
}

// queued returns the messages ready in a queue.
func (f *fixture) queued(name string) int {
	f.t.Helper()
	ch, err := f.rabbit.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		f.t.Fatalf("inspect %s: %v", name, err)
	}
	return q.Messages
}

// deadLetters takes every message from the dead-letter queue.
func (f *fixture) deadLetters() []amqp.Delivery {
	f.t.Helper()
	ch, err := f.rabbit.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(f.dead, true)
		if err != nil {
			f.t.Fatalf("get %s: %v", f.dead, err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// seq is the canvas's committed seq.
func (f *fixture) seq() uint64 {
	f.t.Helper()
	ex, err := f.node.Hub.Snapshot(context.Background(), f.canvas)
	if err != nil {
		f.t.Fatal(err)
	}
	return ex.Seq
}

func note(id, text string) string {
	return fmt.Sprintf(`{"op":"node.add","id":%q,"kind":"note","data":{"text":%q}}`, id, text)
}

func cmd(canvasID string, ops ...string) []byte {
	return []byte(fmt.Sprintf(`{"canvas":%q,"ops":[%s]}`, canvasID, strings.Join(ops, ",")))
}

// bindEvents binds a queue of the test's own to the events exchange for
// routing key key and returns its deliveries.
func (f *fixture) bindEvents(key string) <-chan amqp.Delivery {
	f.t.Helper()
	ch, err := f.rabbit.Channel()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(f.exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		f.t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, key, f.exchange, false, nil); err != nil {
		f.t.Fatal(err)
	}
	d, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}
