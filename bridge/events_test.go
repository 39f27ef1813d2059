package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
)

// eventLog collects the events of a test's queue by canvas.
type eventLog struct {
	t     *testing.T
	d     <-chan amqp.Delivery
	first map[string][]uint64 // each canvas's seqs in the order first seen
	seen  map[string]bool     // message ids seen
	dups  int
	bad   []string // events that break the contract
}

func newEventLog(t *testing.T, d <-chan amqp.Delivery) *eventLog {
	return &eventLog{t: t, d: d, first: map[string][]uint64{}, seen: map[string]bool{}}
}

// take reads events until every canvas in want has its seqs 1..want[c],
// or fails the test after timeout.
func (l *eventLog) take(want map[string]uint64, timeout time.Duration) {
	l.t.Helper()
	deadline := time.After(timeout)
	for !l.complete(want) {
		select {
		case d := <-l.d:
			l.add(d)
		case <-deadline:
			for c, n := range want {
				l.t.Errorf("canvas %s: got %d of %d batches in %v", c, len(l.first[c]), n, timeout)
			}
			l.t.FailNow()
		}
	}
}

func (l *eventLog) complete(want map[string]uint64) bool {
	for c, n := range want {
		if uint64(len(l.first[c])) < n {
			return false
		}
	}
	return true
}

func (l *eventLog) add(d amqp.Delivery) {
	var c struct {
		Seq    uint64 `json:"seq"`
		Author string `json:"author"`
	}
	if err := json.Unmarshal(d.Body, &c); err != nil {
		l.bad = append(l.bad, fmt.Sprintf("body %q: %v", d.Body, err))
		return
	}
	canvasID, _ := d.Headers[bridge.HeaderCanvas].(string)
	seq, _ := d.Headers[bridge.HeaderSeq].(int64)
	if d.MessageId != canvasID+":"+strconv.FormatUint(c.Seq, 10) || uint64(seq) != c.Seq ||
		d.RoutingKey != "canvas."+canvasID+".changes" || d.DeliveryMode != amqp.Persistent {
		l.bad = append(l.bad, fmt.Sprintf("event message_id %q routing key %q headers %v delivery mode %d for seq %d",
			d.MessageId, d.RoutingKey, d.Headers, d.DeliveryMode, c.Seq))
	}
	if l.seen[d.MessageId] {
		l.dups++
		return
	}
	l.seen[d.MessageId] = true
	l.first[canvasID] = append(l.first[canvasID], c.Seq)
}

// check reports events that broke the contract and canvases whose batches
// did not first arrive in seq order from 1.
func (l *eventLog) check() {
	l.t.Helper()
	for _, b := range l.bad {
		l.t.Errorf("bad event: %s", b)
	}
	for c, seqs := range l.first {
		for i, s := range seqs {
			if s != uint64(i+1) {
				l.t.Errorf("canvas %s: batch %d first seen was seq %d; want %d (in seq order, none missing)", c, i, s, i+1)
				break
			}
		}
	}
}

// secondCanvas makes another canvas of the fixture's owner.
func (f *fixture) secondCanvas() string {
	f.t.Helper()
	id := uuid.NewString()
	now := time.Now().UTC()
	c := store.Canvas{ID: id, Title: "Second", Settings: json.RawMessage(`{}`), CreatedBy: f.owner, CreatedAt: now, UpdatedAt: now}
	if err := f.node.Store.CreateCanvas(context.Background(), c, f.owner); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// commit submits one note straight to the canvas actors.
func (f *fixture) commit(canvasID, nodeID string) {
	f.t.Helper()
	b, _ := json.Marshal("note " + nodeID)
	op := canvas.Op{Op: canvas.OpNodeAdd, ID: nodeID, Kind: "note", Data: map[string]json.RawMessage{"text": b}}
	if _, err := f.node.Hub.Submit(context.Background(), canvasID, f.owner, "", []canvas.Op{op}); err != nil {
		f.t.Fatalf("submit to %s: %v", canvasID, err)
	}
}

// Every committed batch reaches the exchange as its REST history has it,
// persistent, with a stable message id.
func TestEventsPublished(t *testing.T) {
	f := newFixture(t)
	events := f.bindEvents("canvas." + f.canvas + ".changes")
	b := f.start(f.config())
	for i := range 5 {
		f.commit(f.canvas, "n"+strconv.Itoa(i))
	}
	log := newEventLog(t, events)
	var bodies [][]byte
	deadline := time.After(20 * time.Second)
	for len(bodies) < 5 {
		select {
		case d := <-events:
			log.add(d)
			bodies = append(bodies, d.Body)
		case <-deadline:
			t.Fatalf("got %d events in 20s; want 5", len(bodies))
		}
	}
	log.check()
	history, _, err := f.node.Hub.History(context.Background(), f.canvas, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bodies {
		if string(bodies[i]) != string(history[i]) {
			t.Errorf("event %d: got body %s; want the history's batch %s", i, bodies[i], history[i])
		}
	}
	waitAcked(t, b, 5)
}

// waitAcked waits until the events mapping has acked n journal records
// (epoch markers included) or more.
func waitAcked(t *testing.T, b *running, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := b.Status().Mappings[len(b.Status().Mappings)-1]
		if st.Acked >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d journal records acked; want at least %d", st.Acked, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every committed batch of every canvas reaches the exchange, first in seq
// order with none missing, while the bridge's connection is cut again and
// again in the middle of the flow. A batch whose confirm a cut lost comes
// again with the same message id. The commits run as fast as the machine
// allows (about 10,000 a canvas, far more than CANVAS_HISTORY beyond the
// checkpoints) while the bridge starts again from its last ack after each
// cut: the journal's trim waits for the bridge's consumer.
func TestEventsAcrossConnectionCuts(t *testing.T) {
	f := newFixture(t)
	second := f.secondCanvas()
	log := newEventLog(t, f.bindEvents("canvas.*.changes"))
	cfg := f.config()
	cfg.DisableCommands = true
	b := f.start(cfg)
	// Commits go on until the cuts are over, so that every cut falls in
	// the middle of the flow.
	stop := make(chan struct{})
	committed := make(chan uint64)
	go func() {
		n := uint64(0)
		for {
			select {
			case <-stop:
				committed <- n
				return
			default:
			}
			f.commit(f.canvas, "a"+strconv.FormatUint(n, 10))
			f.commit(second, "b"+strconv.FormatUint(n, 10))
			n++
		}
	}()
	const cuts = 5
	for range cuts {
		time.Sleep(100 * time.Millisecond)
		f.cut(b)
	}
	close(stop)
	n := <-committed
	log.take(map[string]uint64{f.canvas: n, second: n}, 3*time.Minute)
	log.check()
	t.Logf("%d batches on each of 2 canvases, %d connection cuts, %d duplicate events (batches published again after a cut)", n, cuts, log.dups)
	if st := b.Status().Mappings[0]; st.Reconnects < uint64(cuts) {
		t.Errorf("got %d reconnects of the events mapping; want at least %d", st.Reconnects, cuts)
	}
}

// Batches committed while RabbitMQ cannot be reached are published when it
// can again, in order; meanwhile the bridge does not say it is ready.
func TestEventsAfterOutage(t *testing.T) {
	f := newFixture(t)
	log := newEventLog(t, f.bindEvents("canvas.*.changes"))
	cfg := f.config()
	cfg.DisableCommands = true
	b := f.start(cfg)
	f.commit(f.canvas, "before")
	log.take(map[string]uint64{f.canvas: 1}, 20*time.Second)

	f.proxy.Refuse(true)
	deadline := time.Now().Add(10 * time.Second)
	for b.Ready(context.Background()) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the bridge still says it is ready 10s into the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 50 {
		f.commit(f.canvas, "during"+strconv.Itoa(i))
	}
	if err := b.Ready(context.Background()); err == nil {
		t.Error("got Ready nil during the outage; want an error")
	}
	f.proxy.Refuse(false)
	log.take(map[string]uint64{f.canvas: 51}, 30*time.Second)
	log.check()
	f.waitReady(b)
}

// A bridge that stops (killed, nothing drained) and starts again resumes
// where it stopped: batches committed meanwhile and batches it had in
// flight all reach the exchange, first in seq order.
func TestEventsResumeAfterRestart(t *testing.T) {
	f := newFixture(t)
	log := newEventLog(t, f.bindEvents("canvas.*.changes"))
	cfg := f.config()
	cfg.DisableCommands = true
	a := f.start(cfg)
	for i := range 100 {
		f.commit(f.canvas, "a"+strconv.Itoa(i))
		if i == 60 {
			a.kill(t)
		}
	}
	for i := range 50 {
		f.commit(f.canvas, "b"+strconv.Itoa(i))
	}
	f.start(cfg)
	log.take(map[string]uint64{f.canvas: 150}, 30*time.Second)
	log.check()
	t.Logf("%d duplicate events after the restart", log.dups)
}
