package gateway

import "sync"

// outMsg is one frame to write: a text frame's payload, or (op != 0) a
// control frame's.
type outMsg struct {
	data []byte
	op   byte // 0: text; otherwise a control opcode (pong)
}

// sendQueue is a session's outgoing frames: a slice that grows only while
// frames wait, so an idle connection holds none, and that the writer takes
// whole, to write everything queued with one system call.
type sendQueue struct {
	mu    sync.Mutex
	msgs  []outMsg
	limit int
}

func newSendQueue(limit int) sendQueue { return sendQueue{limit: limit} }

// push queues ms, or reports false when that would make more than limit
// frames wait.
func (q *sendQueue) push(ms ...outMsg) bool {
	q.mu.Lock()
	if len(q.msgs)+len(ms) > q.limit {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, ms...)
	q.mu.Unlock()
	return true
}

func (q *sendQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// take returns what is queued and empties the queue.
func (q *sendQueue) take() []outMsg {
	q.mu.Lock()
	out := q.msgs
	q.msgs = nil
	q.mu.Unlock()
	return out
}

// WebSocket opcodes the write loop frames itself (RFC 6455 5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// appendFrame frames payload as one unmasked, unfragmented frame, as a
// server sends it.
func appendFrame(b []byte, op byte, payload []byte) []byte {
	n := len(payload)
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}
