package gateway

import (
	"sync"
	"time"

	"github.com/skerhq/sker/apierr"
)

// A session's frames leave through its send queue: any goroutine enqueues,
// and one writer goroutine, started only while frames wait, writes them.

// enqueue queues frames for the client without ever blocking: a client
// whose queue is full is disconnected with 4008 (slow consumer). Frames
// queued together are written together unless the queue is full.
func (s *session) enqueue(m ...outMsg) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if !s.q.push(m...) {
		s.kill(apierr.CloseSlowConsumer, "slow consumer: send queue overflow")
		return false
	}
	s.kick()
	return true
}

// kick starts a writer unless one runs. A connection has a writer goroutine
// only while frames wait, so an idle one costs no goroutine and no buffer.
func (s *session) kick() {
	s.wmu.Lock()
	if s.writing {
		s.wmu.Unlock()
		return
	}
	s.writing = true
	s.wmu.Unlock()
	go s.writeLoop()
}

// offer queues a frame that may be dropped (presence) when the queue is
// more than half full.
func (s *session) offer(m outMsg) {
	if s.q.size() > s.q.limit/2 {
		return
	}
	s.enqueue(m)
}

// writeLoop is the connection's only writer while it runs: it frames what
// is queued itself and writes all of it with one system call (the
// library's frame writer would make one per frame), so a batch fanned out
// to many clients costs one write per client, not one per frame. It ends
// when the queue is empty, or after writing the close frame of a killed
// session.
func (s *session) writeLoop() {
	wt := s.g.cfg.WriteTimeout
	nc := s.conn.NetConn()
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putFrameBuf(bp, buf) }()
	if d := s.g.cfg.WriteCoalesce; d > 0 {
		time.Sleep(d) // let frames on their way join this write
	}
	for {
		// A killed session stops writing changes even when more are queued.
		if s.killed() {
			s.closeConn(wt)
			return
		}
		batch := s.q.take()
		if len(batch) == 0 {
			s.wmu.Lock()
			if s.q.size() == 0 && !s.killed() {
				s.writing = false
				s.wmu.Unlock()
				return
			}
			s.wmu.Unlock()
			continue
		}
		buf = buf[:0]
		for _, m := range batch {
			op := m.op
			if op == 0 {
				op = opText
			}
			buf = appendFrame(buf, op, m.data)
		}
		// The deadline is the socket's own: these bytes bypass the
		// library's writer and its deadline. Moving it costs a timer
		// update, so it moves only when a tenth of the timeout has passed:
		// a write may fail after 0.9 × WriteTimeout rather than after all
		// of it.
		if now := time.Now(); now.Sub(s.deadlineAt) > wt/10 {
			_ = nc.SetWriteDeadline(now.Add(wt))
			s.deadlineAt = now
		}
		if _, err := nc.Write(buf); err != nil {
			s.kill(apierr.CloseAbnormal, "")
			s.closeConn(wt)
			return
		}
	}
}

// closeConn sends the close frame with the session's code, once; the
// writer then stays marked as running, so none starts again. The socket
// itself is closed when serve returns.
func (s *session) closeConn(wt time.Duration) {
	if s.closeCode != apierr.CloseAbnormal {
		writeClose(s.conn, s.closeCode, s.closeText, wt)
	}
	close(s.closed)
}

// frameBufs are the buffers frames are written from and read into, shared
// by every connection: a connection holds one only while it writes or
// reads a frame.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// putFrameBuf returns a buffer to frameBufs unless it grew past 64 KiB.
func putFrameBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		frameBufs.Put(bp)
	}
}
