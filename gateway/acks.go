package gateway

import (
	"math"
	"time"
)

// ackHold bounds how long an ack waits for its batch to reach the member;
// the batch normally follows within a millisecond.
const ackHold = 100 * time.Millisecond

// heldAck is an ack waiting to be written with the batch it acknowledges.
type heldAck struct {
	seq uint64
	msg outMsg
}

// holdAck keeps the ack of batch seq until the member is sent that batch,
// so that the sender's ack and its own change, which come within a
// millisecond of each other, go out in one write rather than two. It
// reports false when the member has the batch already or has left: the
// caller sends the ack at once. The protocol does not order acks with
// respect to changes.
func (r *room) holdAck(s *session, m *membership, seq uint64, ack outMsg) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[s] != m || m.seen >= seq {
		return false
	}
	if len(m.acks) == 0 {
		if m.ackTimer == nil {
			m.ackTimer = time.AfterFunc(ackHold, func() { r.flushAcks(s, m) })
		} else {
			m.ackTimer.Reset(ackHold)
		}
	}
	m.acks = append(m.acks, heldAck{seq: seq, msg: ack})
	return true
}

// releaseAcks returns the held acks of batches the member has now been
// sent, followed by then. Lock held.
func (r *room) releaseAcks(m *membership, then ...outMsg) []outMsg {
	return r.takeAcks(m, m.seen, then...)
}

// takeAcks returns the held acks of batches up to seq, in the order they
// were held, followed by then; the timer stops with the last. Lock held.
func (r *room) takeAcks(m *membership, seq uint64, then ...outMsg) []outMsg {
	if len(m.acks) == 0 {
		return then
	}
	var out []outMsg
	kept := m.acks[:0]
	for _, a := range m.acks {
		if a.seq <= seq {
			out = append(out, a.msg)
		} else {
			kept = append(kept, a)
		}
	}
	clear(m.acks[len(kept):])
	m.acks = kept
	if len(kept) == 0 {
		m.acks = nil
		m.ackTimer.Stop()
	}
	return append(out, then...)
}

// flushAcks sends every ack the member holds: its batch did not arrive in
// time, or the member leaves.
func (r *room) flushAcks(s *session, m *membership) {
	r.mu.Lock()
	out := r.takeAcks(m, math.MaxUint64)
	r.mu.Unlock()
	if len(out) > 0 {
		s.enqueue(out...)
	}
}
