package gateway

import (
	"slices"
	"testing"
	"time"
)

// quietSession is a session whose writer is marked as running, so frames
// stay in its queue for the test to read.
func quietSession() *session {
	return &session{q: newSendQueue(64), done: make(chan struct{}), closed: make(chan struct{}), writing: true}
}

func queued(s *session) []string {
	var out []string
	for _, m := range s.q.take() {
		out = append(out, string(m.data))
	}
	return out
}

func heldAckRoom() (*room, *session, *membership) {
	r := &room{id: "c1", members: map[*session]*membership{}, based: true}
	s := quietSession()
	m := &membership{room: r, seen: 2}
	r.members[s] = m
	return r, s, m
}

// TestAckRidesWithItsChange: an ack held for batch 4 is not released by
// batch 3 and goes out just before batch 4, in the same push.
func TestAckRidesWithItsChange(t *testing.T) {
	r, s, m := heldAckRoom()
	if !r.holdAck(s, m, 4, outMsg{data: []byte("ack4")}) {
		t.Fatal("holdAck: false; want the ack held (batch 4 not sent yet)")
	}
	r.mu.Lock()
	r.sendTo(s, m, fanMsg{first: 3, last: 3, frame: []byte("b3")})
	r.mu.Unlock()
	if got := queued(s); !slices.Equal(got, []string{"b3"}) {
		t.Fatalf("after batch 3: queued %q; want only b3", got)
	}
	r.mu.Lock()
	r.sendTo(s, m, fanMsg{first: 4, last: 4, frame: []byte("b4")})
	r.mu.Unlock()
	if got := queued(s); !slices.Equal(got, []string{"ack4", "b4"}) {
		t.Fatalf("after batch 4: queued %q; want ack4 then b4", got)
	}
	if m.acks != nil {
		t.Fatalf("acks still held: %v", m.acks)
	}
}

// TestAckNotHeldWhenChangeAlreadySent: an ack whose batch the member has
// is sent at once by the caller.
func TestAckNotHeldWhenChangeAlreadySent(t *testing.T) {
	r, s, m := heldAckRoom()
	if r.holdAck(s, m, 2, outMsg{data: []byte("ack2")}) {
		t.Fatal("holdAck: true; want false (batch 2 already sent)")
	}
	other := &membership{room: r}
	if r.holdAck(s, other, 9, outMsg{data: []byte("ack9")}) {
		t.Fatal("holdAck for a membership that is not the room's: true; want false")
	}
}

// TestHeldAckFlushedInTime: an ack whose batch never reaches the member is
// sent after ackHold.
func TestHeldAckFlushedInTime(t *testing.T) {
	r, s, m := heldAckRoom()
	if !r.holdAck(s, m, 7, outMsg{data: []byte("ack7")}) {
		t.Fatal("holdAck: false; want true")
	}
	time.Sleep(ackHold / 2)
	if n := s.q.size(); n != 0 {
		t.Fatalf("%d frames queued before ackHold; want 0", n)
	}
	eventually(t, 10*ackHold, "held ack sent", func() bool { return s.q.size() == 1 })
	if got := queued(s); !slices.Equal(got, []string{"ack7"}) {
		t.Fatalf("queued %q; want ack7", got)
	}
}

// TestFlushAcksSendsEveryHeldAck: flushAcks (which leave calls) sends
// every ack still held, in order.
func TestFlushAcksSendsEveryHeldAck(t *testing.T) {
	r, s, m := heldAckRoom()
	r.holdAck(s, m, 5, outMsg{data: []byte("ack5")})
	r.holdAck(s, m, 6, outMsg{data: []byte("ack6")})
	r.mu.Lock()
	delete(r.members, s)
	r.mu.Unlock()
	r.flushAcks(s, m)
	if got := queued(s); !slices.Equal(got, []string{"ack5", "ack6"}) {
		t.Fatalf("queued %q; want ack5, ack6", got)
	}
}
