package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/testkit"
)

// bridgeTopology names a test's commands queue, dead-letter queue and
// events exchange (base, unique per test; deleted when it ends), declares
// the exchange and binds a queue of the test's own to its changes, and
// returns a channel on the machine's RabbitMQ and the deliveries.
func bridgeTopology(t *testing.T) (ch *amqp.Channel, base, queue, dead, exchange string, events <-chan amqp.Delivery) {
	t.Helper()
	rabbit := testkit.RabbitMQ(t)
	ch, err := rabbit.Channel()
	noErr(t, err)
	base = testkit.UniqueName("sker-e2e")
	queue, dead, exchange = base+".commands", base+".dead", base+".events"
	t.Cleanup(func() {
		c, err := rabbit.Channel()
		if err != nil {
			return
		}
		_, _ = c.QueueDelete(queue, false, false, false)
		_, _ = c.QueueDelete(dead, false, false, false)
		_ = c.ExchangeDelete(exchange, false, false)
		_ = c.Close()
	})
	noErr(t, ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	evq, err := ch.QueueDeclare("", false, true, true, false, nil)
	noErr(t, err)
	noErr(t, ch.QueueBind(evq.Name, "canvas.*.changes", exchange, false, nil))
	events, err = ch.Consume(evq.Name, "", true, true, false, false, nil)
	noErr(t, err)
	return ch, base, queue, dead, exchange, events
}

// TestBridgeOnTheBinary: with RABBITMQ_URL set, a command published to the
// commands queue with an API token is applied and acked on its reply
// queue, a consumer bound to the events exchange receives every change
// (made through RabbitMQ or REST), and /ready reports the bridge. Killed
// with SIGKILL in the middle of both flows and started again, the binary
// applies every command once and publishes every batch, first in seq
// order, and it stops cleanly.
func TestBridgeOnTheBinary(t *testing.T) {
	// The events queue is bound before the binary starts, so that it
	// hears every batch.
	ch, _, queue, dead, exchange, events := bridgeTopology(t)
	rq, err := ch.QueueDeclare("", false, true, true, false, nil)
	noErr(t, err)
	replies, err := ch.Consume(rq.Name, "", true, true, false, false, nil)
	noErr(t, err)

	s := StartSker(t, Options{Env: map[string]string{
		"RABBITMQ_URL": testkit.RabbitMQURL(t), "BRIDGE_COMMANDS_QUEUE": queue,
		"BRIDGE_DEAD_LETTER_QUEUE": dead, "BRIDGE_EVENTS_EXCHANGE": exchange,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ann := s.NewClient()
	_, err = ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Bridged")
	noErr(t, err)
	var tok struct {
		Token string `json:"token"`
	}
	noErr(t, ann.Do(ctx, http.MethodPost, "/api/v1/tokens", map[string]string{"name": "script"}, &tok))
	waitBridgeReady(t, ctx, ann)

	send := func(id, nodeID string) {
		body := fmt.Sprintf(`{"canvas":%q,"ops":[{"op":"node.add","id":%q,"kind":"note"}]}`, cv.ID, nodeID)
		noErr(t, ch.PublishWithContext(ctx, "", queue, false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: id, CorrelationId: id,
			ReplyTo: rq.Name, Headers: amqp.Table{"authorization": "Bearer " + tok.Token}, Body: []byte(body),
		}))
	}
	acks := map[string]uint64{}
	waitAcks := func(n int) {
		t.Helper()
		for len(acks) < n {
			select {
			case d := <-replies:
				var r struct {
					Type string `json:"type"`
					Seq  uint64 `json:"seq"`
					Code string `json:"code"`
				}
				noErr(t, json.Unmarshal(d.Body, &r))
				if r.Type != "ack" {
					t.Fatalf("command %s: got reply %s; want an ack", d.CorrelationId, d.Body)
				}
				if prev, ok := acks[d.CorrelationId]; ok && prev != r.Seq {
					t.Fatalf("command %s acked with seq %d, then %d: applied twice", d.CorrelationId, prev, r.Seq)
				}
				acks[d.CorrelationId] = r.Seq
			case <-time.After(60 * time.Second):
				t.Fatalf("got %d of %d commands acked", len(acks), n)
			}
		}
	}
	send("first", "from-rabbit")
	waitAcks(1)
	if acks["first"] != 1 {
		t.Errorf("first command: got seq %d; want 1", acks["first"])
	}
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "from-rest", Kind: "note"})
	noErr(t, err)

	// Both flows, with a SIGKILL in the middle.
	const n = 300
	for i := range n {
		send("m-"+strconv.Itoa(i), "n"+strconv.Itoa(i))
	}
	waitAcks(1 + n/3)
	s.Kill()
	s.Start()
	waitAcks(1 + n)
	got, err := ann.GetCanvas(ctx, cv.ID)
	noErr(t, err)
	if want := uint64(n + 2); got.Seq == nil || *got.Seq != want || len(got.Nodes) != n+2 {
		t.Errorf("canvas after the restart: got seq %v and %d nodes; want seq %d and %d nodes (every command once)", got.Seq, len(got.Nodes), want, n+2)
	}

	firsts, dups := []uint64{}, 0
	seen := map[string]bool{}
	for len(firsts) < n+2 {
		select {
		case d := <-events:
			if seen[d.MessageId] {
				dups++
				continue
			}
			seen[d.MessageId] = true
			var c struct {
				Seq uint64 `json:"seq"`
			}
			noErr(t, json.Unmarshal(d.Body, &c))
			firsts = append(firsts, c.Seq)
		case <-time.After(60 * time.Second):
			t.Fatalf("got %d of %d batches on the events exchange", len(firsts), n+2)
		}
	}
	for i, seq := range firsts {
		if seq != uint64(i+1) {
			t.Fatalf("event %d: got seq %d first; want %d (every batch, in seq order)", i, seq, i+1)
		}
	}
	t.Logf("%d duplicate events across the SIGKILL", dups)
	waitBridgeReady(t, ctx, ann)
	s.Stop() // drains the bridge: exit 0, no error logged
}

// waitBridgeReady waits until /ready answers 200 with the bridge's check
// ok.
func waitBridgeReady(t *testing.T, ctx context.Context, c *Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, checks, err := c.Ready(ctx)
		if err == nil && code == http.StatusOK && checks["rabbitmq"] == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready: got %d %v (%v); want 200 with rabbitmq ok", code, checks, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
