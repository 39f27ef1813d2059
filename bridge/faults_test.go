package bridge_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// flow sends n commands (each a note of its own, message_id m-<i>) and
// collects their replies and the events they make.
type flow struct {
	f       *fixture
	n       int
	replies <-chan amqp.Delivery
	acks    map[string]uint64 // message id → seq acked
	dups    int               // replies beyond the first per command
	events  *eventLog
}

func (f *fixture) startFlow(n int) *flow {
	f.t.Helper()
	fl := &flow{f: f, n: n, acks: map[string]uint64{}, events: newEventLog(f.t, f.bindEvents("canvas.*.changes"))}
	var replyTo string
	replyTo, fl.replies = f.replyQueue()
	for i := range n {
		id := "m-" + strconv.Itoa(i)
		f.send(f.ownerToken, cmd(f.canvas, note("n"+strconv.Itoa(i), id)), func(p *amqp.Publishing) {
			p.ReplyTo, p.CorrelationId, p.MessageId = replyTo, id, id
		})
	}
	return fl
}

// waitAcks reads replies until k commands are acked; a reject fails the
// test.
func (fl *flow) waitAcks(k int, timeout time.Duration) {
	t := fl.f.t
	t.Helper()
	deadline := time.After(timeout)
	for len(fl.acks) < k {
		select {
		case d := <-fl.replies:
			r := fl.f.decode(d)
			if r.Type != "ack" {
				t.Fatalf("command %s: got %+v; want an ack", r.correlationID, r)
			}
			if seq, ok := fl.acks[r.correlationID]; ok {
				fl.dups++
				if seq != r.Seq {
					t.Errorf("command %s: acked seq %d, then seq %d: applied twice", r.correlationID, seq, r.Seq)
				}
				continue
			}
			fl.acks[r.correlationID] = r.Seq
		case <-deadline:
			t.Fatalf("got %d of %d commands acked in %v", len(fl.acks), k, timeout)
		}
	}
}

// finish waits for every ack and event and checks that every command was
// applied once and every batch published.
func (fl *flow) finish() {
	f, t := fl.f, fl.f.t
	t.Helper()
	fl.waitAcks(fl.n, 60*time.Second)
	if s := f.seq(); s != uint64(fl.n) {
		t.Errorf("got canvas seq %d after %d commands; want %d (each applied once)", s, fl.n, fl.n)
	}
	seqs := map[uint64]string{}
	for id, s := range fl.acks {
		if other, ok := seqs[s]; ok {
			t.Errorf("commands %s and %s both acked with seq %d", other, id, s)
		}
		seqs[s] = id
	}
	fl.events.take(map[string]uint64{f.canvas: uint64(fl.n)}, 60*time.Second)
	fl.events.check()
	if dead := f.deadLetters(); len(dead) != 0 {
		t.Errorf("got %d dead letters; want none (first: code %v)", len(dead), dead[0].Headers["x-sker-code"])
	}
	t.Logf("%d commands: %d duplicate replies, %d duplicate events", fl.n, fl.dups, fl.events.dups)
}

// Commands and events flow while the bridge's connection is cut again and
// again: every command is applied once and acked, every batch reaches the
// exchange.
func TestFlowAcrossConnectionCuts(t *testing.T) {
	f := newFixture(t)
	b := f.start(f.config())
	fl := f.startFlow(600)
	for i := 1; i <= 4; i++ {
		fl.waitAcks(i*100, 30*time.Second)
		f.cut(b)
	}
	fl.finish()
	if st := b.Status(); st.Connects < 5 {
		t.Errorf("got %d connections; want at least 5 (one per cut)", st.Connects)
	}
}

// A bridge killed in the middle of both flows (nothing drained, nothing
// acked that was in flight) and started again loses nothing and applies
// nothing twice.
func TestFlowAcrossRestart(t *testing.T) {
	f := newFixture(t)
	a := f.start(f.config())
	fl := f.startFlow(600)
	fl.waitAcks(200, 30*time.Second)
	a.kill(t)
	f.start(f.config())
	fl.finish()
}

// Shutdown in the middle of a flow finishes the commands in flight: each
// command applied is acked, and each one not applied stays in the queue
// for the next start, which applies it once. The commands go to four
// canvases, so that several are in flight when the shutdown comes.
func TestShutdownDrainsCommands(t *testing.T) {
	f := newFixture(t)
	cfg := f.config()
	cfg.DisableEvents = true
	a := f.start(cfg)
	canvases := []string{f.canvas, f.secondCanvas(), f.secondCanvas(), f.secondCanvas()}
	replyTo, replies := f.replyQueue()
	const perCanvas = 100
	for i := range perCanvas {
		for _, c := range canvases {
			f.send(f.ownerToken, cmd(c, note("n"+strconv.Itoa(i), "drain")), func(p *amqp.Publishing) {
				p.ReplyTo, p.MessageId = replyTo, c+"-"+strconv.Itoa(i)
			})
		}
	}
	for range 50 {
		f.nextReply(replies)
	}
	a.shutdown(t)
	applied := func() uint64 {
		n := uint64(0)
		for _, c := range canvases {
			ex, err := f.node.Hub.Snapshot(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			n += ex.Seq
		}
		return n
	}
	total := uint64(perCanvas * len(canvases))
	done, left := applied(), f.queued(f.commands)
	if done+uint64(left) != total {
		t.Errorf("after shutdown: got %d commands applied and %d left in the queue; want %d together (each one applied acked)", done, left, total)
	}
	if left == 0 {
		t.Log("the bridge finished every command before the shutdown: the drain was not exercised")
	}
	f.start(cfg)
	deadline := time.Now().Add(60 * time.Second)
	for applied() < total && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := applied(); got != total {
		t.Errorf("got %d commands applied after the restart; want %d, each once", got, total)
	}
	if dead := f.deadLetters(); len(dead) != 0 {
		t.Errorf("got %d dead letters; want none", len(dead))
	}
}
