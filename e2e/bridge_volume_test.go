package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/testkit"
)

// TestBridgeHundredThousand: 100,000 commands go in through the commands
// queue (spread over ten canvases) and their 100,000 batches come out on
// the events exchange, while the test cuts the binary's RabbitMQ
// connection four times (a proxy between the two drops every connection
// at once). Every command is acked, each with a seq of its own: none is
// applied twice, whatever RabbitMQ delivered again; every batch of every
// canvas is on the exchange; duplicates (replies and events that came
// again after a cut, with the same ids) are counted and reported.
func TestBridgeHundredThousand(t *testing.T) {
	const canvases, perCanvas = 10, 10_000
	const n = canvases * perCanvas
	ch, _, queue, dead, exchange, events := bridgeTopology(t)
	rq, err := ch.QueueDeclare("", false, true, true, false, nil)
	noErr(t, err)
	replies, err := ch.Consume(rq.Name, "", true, true, false, false, nil)
	noErr(t, err)
	direct, err := url.Parse(testkit.RabbitMQURL(t))
	noErr(t, err)
	proxy := testkit.StartProxy(t, direct.Host)
	viaProxy := *direct
	viaProxy.Host = proxy.Addr()

	s := StartSker(t, Options{Env: map[string]string{
		"RABBITMQ_URL": viaProxy.String(), "BRIDGE_COMMANDS_QUEUE": queue,
		"BRIDGE_DEAD_LETTER_QUEUE": dead, "BRIDGE_EVENTS_EXCHANGE": exchange,
		"BRIDGE_PREFETCH": "256",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ann := s.NewClient()
	_, err = ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	var tok struct {
		Token string `json:"token"`
	}
	noErr(t, ann.Do(ctx, http.MethodPost, "/api/v1/tokens", map[string]string{"name": "volume"}, &tok))
	ids := make([]string, canvases)
	for i := range ids {
		cv, err := ann.CreateCanvas(ctx, fmt.Sprintf("Volume %d", i))
		noErr(t, err)
		ids[i] = cv.ID
	}
	waitBridgeReady(t, ctx, ann)

	// The publisher: confirmed, so that the test knows RabbitMQ holds
	// every command before it counts on it.
	pub, err := testkit.RabbitMQ(t).Channel()
	noErr(t, err)
	noErr(t, pub.Confirm(false))
	t0 := time.Now()
	go func() {
		for i := range perCanvas {
			for c, id := range ids {
				mid := strconv.Itoa(c) + "-" + strconv.Itoa(i)
				body := `{"canvas":"` + id + `","ops":[{"op":"node.add","id":"n` + strconv.Itoa(i) + `","kind":"note"}]}`
				dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, amqp.Publishing{
					ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: mid, CorrelationId: mid,
					ReplyTo: rq.Name, Headers: amqp.Table{"authorization": "Bearer " + tok.Token}, Body: []byte(body),
				})
				if err != nil {
					t.Errorf("publish %s: %v", mid, err)
					return
				}
				if i%500 == 499 && c == canvases-1 {
					if ok, err := dc.WaitContext(ctx); !ok || err != nil {
						t.Errorf("confirm of %s: %v %v", mid, ok, err)
						return
					}
				}
			}
		}
	}()

	acks := make(map[string]uint64, n)
	seqOf := make(map[string]string, n) // canvas index + seq → command
	dupReplies := 0
	firsts := make([]map[uint64]bool, canvases) // canvas → seqs seen on the exchange
	for i := range firsts {
		firsts[i] = make(map[uint64]bool, perCanvas)
	}
	index := make(map[string]int, canvases)
	for i, id := range ids {
		index[id] = i
	}
	gotEvents, dupEvents := 0, 0
	var lags []time.Duration // batch committed (its At) → received from the exchange
	cuts := 0
	for len(acks) < n || gotEvents < n {
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
			if prev, ok := acks[d.CorrelationId]; ok {
				dupReplies++
				if prev != r.Seq {
					t.Fatalf("command %s acked with seq %d, then %d: applied twice", d.CorrelationId, prev, r.Seq)
				}
				continue
			}
			c, _, _ := strings.Cut(d.CorrelationId, "-")
			key := c + ":" + strconv.FormatUint(r.Seq, 10)
			if other, ok := seqOf[key]; ok {
				t.Fatalf("commands %s and %s both acked with seq %d on canvas %s", other, d.CorrelationId, r.Seq, c)
			}
			seqOf[key] = d.CorrelationId
			acks[d.CorrelationId] = r.Seq
			if len(acks)%20_000 == 0 && cuts < 4 {
				cuts++
				t.Logf("%d commands acked after %v; cut %d: %d connections dropped", len(acks), time.Since(t0).Round(time.Millisecond), cuts, proxy.Cut())
			}
		case d := <-events:
			id, seqText, ok := strings.Cut(d.MessageId, ":")
			seq, err := strconv.ParseUint(seqText, 10, 64)
			c, known := index[id]
			if !ok || err != nil || !known {
				t.Fatalf("event with message_id %q; want <canvas>:<seq> of a test canvas", d.MessageId)
			}
			if firsts[c][seq] {
				dupEvents++
				continue
			}
			firsts[c][seq] = true
			gotEvents++
			var head struct {
				At int64 `json:"at"` // unix ms; AMQP's timestamp property has whole seconds only
			}
			if json.Unmarshal(d.Body, &head) == nil && head.At > 0 {
				lags = append(lags, time.Since(time.UnixMilli(head.At)))
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("stalled: %d of %d commands acked, %d of %d batches on the exchange", len(acks), n, gotEvents, n)
		}
	}
	elapsed := time.Since(t0)
	for c, seen := range firsts {
		for seq := uint64(1); seq <= perCanvas; seq++ {
			if !seen[seq] {
				t.Fatalf("canvas %d: batch %d never reached the exchange", c, seq)
			}
		}
	}
	for _, id := range ids {
		cv, err := ann.GetCanvas(ctx, id)
		noErr(t, err)
		if cv.Seq == nil || *cv.Seq != perCanvas || len(cv.Nodes) != perCanvas {
			t.Errorf("canvas %s: seq %v with %d nodes; want seq %d and %d nodes (every command once)", id, cv.Seq, len(cv.Nodes), perCanvas, perCanvas)
		}
	}
	if cuts < 4 {
		t.Errorf("%d cuts; want 4", cuts)
	}
	slices.Sort(lags)
	t.Logf("%d commands in and %d batches out in %v (%.0f/s each way) across %d cuts: %d duplicate replies, %d duplicate events; "+
		"commit to the events queue p50 %v, p99 %v (cuts included)",
		n, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), cuts, dupReplies, dupEvents,
		lags[len(lags)/2].Round(time.Millisecond), lags[len(lags)*99/100].Round(time.Millisecond))
	s.Stop()
}
