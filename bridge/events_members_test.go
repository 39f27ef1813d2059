package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// memberChange is what a test records, and expects on the exchange.
type memberChange struct {
	user, change string
	role         store.Role
}

// changeN is the test's nth membership change: each user is added, made
// an editor and removed, in turn.
func changeN(n int) memberChange {
	user := "u" + strconv.Itoa(n/3)
	switch n % 3 {
	case 0:
		return memberChange{user, bridge.MemberAdded, store.RoleViewer}
	case 1:
		return memberChange{user, bridge.MemberRoleChanged, store.RoleEditor}
	default:
		return memberChange{user, bridge.MemberRemoved, ""}
	}
}

// memberLog collects the member events of a queue.
type memberLog struct {
	t     *testing.T
	d     <-chan amqp.Delivery
	first []bridge.MemberEvent // in the order first seen
	seen  map[string]string    // message id → body
	dups  int
}

func (l *memberLog) take(n int, timeout time.Duration) {
	l.t.Helper()
	deadline := time.After(timeout)
	for len(l.first) < n {
		select {
		case d := <-l.d:
			l.add(d)
		case <-deadline:
			l.t.Fatalf("got %d of %d member events in %v", len(l.first), n, timeout)
		}
	}
}

func (l *memberLog) add(d amqp.Delivery) {
	l.t.Helper()
	var ev bridge.MemberEvent
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		l.t.Fatalf("member event body %s: %v", d.Body, err)
	}
	if d.MessageId != bridge.MemberMessageID(ev) || d.RoutingKey != "canvas."+ev.Canvas+".members" ||
		d.Type != "members" || d.DeliveryMode != amqp.Persistent || d.Headers[bridge.HeaderCanvas] != ev.Canvas {
		l.t.Errorf("member event %s: got message id %q routing key %q type %q mode %d headers %v",
			d.Body, d.MessageId, d.RoutingKey, d.Type, d.DeliveryMode, d.Headers)
	}
	if prev, ok := l.seen[d.MessageId]; ok {
		if prev != string(d.Body) {
			l.t.Errorf("message id %s: got body %s, earlier %s; want one body per id", d.MessageId, d.Body, prev)
		}
		l.dups++
		return
	}
	l.seen[d.MessageId] = string(d.Body)
	l.first = append(l.first, ev)
}

// check compares the events first seen with changes 0..n-1 of canvasID by
// by, in order.
func (l *memberLog) check(canvasID, by string, n int) {
	l.t.Helper()
	if len(l.first) != n {
		l.t.Errorf("got %d member events; want %d", len(l.first), n)
	}
	for i, ev := range l.first[:min(n, len(l.first))] {
		w := changeN(i)
		role := ""
		if ev.Role != nil {
			role = string(*ev.Role)
		}
		if ev.Canvas != canvasID || ev.User != w.user || ev.Change != w.change || role != string(w.role) || ev.By != by || len(ev.ID) != 32 || ev.At <= 0 {
			l.t.Fatalf("member event %d: got %+v (role %q); want canvas %s user %s change %s role %q by %s", i, ev, role, canvasID, w.user, w.change, w.role, by)
		}
	}
}

func (f *fixture) memberLog() *bridge.MemberLog {
	return bridge.NewMemberLog(f.js, natsname.Default(), testkit.Logger())
}

func (f *fixture) record(ml *bridge.MemberLog, n int) {
	c := changeN(n)
	ml.MemberEvent(context.Background(), f.canvas, c.user, c.change, c.role, f.owner)
}

// Membership changes reach canvas.<id>.members in the order they were
// recorded, none missing, while the bridge's connection is cut in the
// middle of the flow and the bridge is killed and started again; a change
// published again has its first message id and body.
func TestEventsMembersAcrossCutsAndRestart(t *testing.T) {
	f := newFixture(t)
	log := &memberLog{t: t, d: f.bindEvents("canvas.*.members"), seen: map[string]string{}}
	cfg := f.config()
	cfg.DisableCommands = true
	b := f.start(cfg)
	ml := f.memberLog()
	n := 0
	for range 3 {
		for range 40 {
			f.record(ml, n)
			n++
		}
		f.cut(b)
	}
	for range 20 {
		f.record(ml, n)
		n++
	}
	b.kill(t)
	for range 30 {
		f.record(ml, n) // while no bridge runs
		n++
	}
	b = f.start(cfg)
	for range 10 {
		f.record(ml, n)
		n++
	}
	log.take(n, time.Minute)
	log.check(f.canvas, f.owner, n)
	select {
	case d := <-log.d:
		log.add(d)
	case <-time.After(300 * time.Millisecond):
	}
	if len(log.first) != n {
		t.Errorf("got %d member events; want %d", len(log.first), n)
	}
	t.Logf("%d member events, 3 cuts and a restart, %d duplicates", n, log.dups)
	waitAcked(t, b, 1)
}

// A drained bridge leaves nothing unacked: the next one publishes only
// what was recorded after it, and each record's AI result of the journal
// (committed while no bridge ran) arrives too.
func TestEventsMembersAndAIResumeAfterShutdown(t *testing.T) {
	f := newFixture(t)
	members := &memberLog{t: t, d: f.bindEvents("canvas.*.members"), seen: map[string]string{}}
	ai := f.bindEvents("canvas.*.ai")
	cfg := f.config()
	cfg.DisableCommands = true
	b := f.start(cfg)
	ml := f.memberLog()
	f.record(ml, 0)
	members.take(1, 20*time.Second)
	b.shutdown(t)
	f.record(ml, 1)
	f.runningCard("q", "run-1")
	if err := f.node.Hub.FinishAIRun(context.Background(), f.canvas, "q", "run-1", canvases.AIResult{Status: "done", Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	f.start(cfg)
	members.take(2, 20*time.Second)
	members.check(f.canvas, f.owner, 2)
	if members.dups != 0 {
		t.Errorf("got %d duplicates after a drained shutdown; want 0", members.dups)
	}
	m := next(t, ai, "AI event")
	if m.MessageId != bridge.AIMessageID(f.canvas, 2) {
		t.Errorf("got AI event %q %s; want message id %q", m.MessageId, m.Body, bridge.AIMessageID(f.canvas, 2))
	}
}

// Where no bridge has ever run with events there is no members stream:
// recording a change does nothing, at once, and creates none.
func TestMemberLogWithoutStream(t *testing.T) {
	f := newFixture(t)
	names, err := natsname.New("NOBRIDGE" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10))
	if err != nil {
		t.Fatal(err)
	}
	ml := bridge.NewMemberLog(f.js, names, testkit.Logger())
	start := time.Now()
	ml.MemberEvent(context.Background(), f.canvas, f.owner, bridge.MemberRemoved, "", f.owner)
	if d := time.Since(start); d > time.Second {
		t.Errorf("recording without a members stream took %v; want it at once", d)
	}
	if _, err := f.js.Stream(context.Background(), names.MembersStream()); err == nil {
		t.Errorf("stream %s exists; want none", names.MembersStream())
	}
}

// A corrupt record in the members stream goes to the events dead-letter
// queue with its reason; the changes after it are published.
func TestEventsMembersDeadLetterCorrupt(t *testing.T) {
	f := newFixture(t)
	log := &memberLog{t: t, d: f.bindEvents("canvas.*.members"), seen: map[string]string{}}
	cfg := f.config()
	cfg.DisableCommands = true
	f.start(cfg)
	ml := f.memberLog()
	f.record(ml, 0)
	for i, bad := range []string{`{`, `{"id":"x"}`, fmt.Sprintf(`{"id":"%032d","canvas":"other","change":"removed","role":null,"by":"","at":1}`, 0)} {
		if _, err := f.js.Publish(context.Background(), natsname.Default().MemberEvents(f.canvas), []byte(bad)); err != nil {
			t.Fatalf("bad record %d: %v", i, err)
		}
	}
	f.record(ml, 1)
	log.take(2, 20*time.Second)
	log.check(f.canvas, f.owner, 2)
	var dead []amqp.Delivery
	for deadline := time.Now().Add(10 * time.Second); len(dead) < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		dead = append(dead, f.getAll(f.exchange+".dead")...)
	}
	if len(dead) != 3 {
		t.Fatalf("dead-letter queue: got %d records; want the 3 corrupt ones", len(dead))
	}
	for i, d := range dead {
		reason, _ := d.Headers[bridge.HeaderReason].(string)
		if !strings.HasPrefix(reason, "corrupt membership change: ") || d.Headers[bridge.HeaderSubject] != natsname.Default().MemberEvents(f.canvas) ||
			d.Headers[bridge.HeaderMapping] != bridge.MappingEvents || d.Headers[bridge.HeaderStreamSeq] == nil {
			t.Errorf("dead letter %d (%s): headers %v; want the reason, the subject, the mapping and the stream seq", i, d.Body, d.Headers)
		}
	}
}
