package gateway

import (
	"bufio"
	"net"
	"syscall"
)

// idleWaiter parks an idle connection's read loop in a shallow frame.
//
// A goroutine's stack keeps the size its deepest call needed until the
// garbage collector finds it mostly unused. A read loop parked inside the
// WebSocket library's read sits a dozen frames deep, so its stack never
// shrinks below 8 KiB; parked here, just below the read loop, it shrinks
// to 4 KiB at the next collections. With tens of thousands of quiet
// connections that is a third of their memory. A read that must wait
// costs the same two system calls as before (a peek that finds nothing,
// then the read), and one that need not wait one peek more.
type idleWaiter struct {
	br       *bufio.Reader // the connection's reader, which the library reads through
	raw      syscall.RawConn
	readable func(fd uintptr) bool
	probe    [1]byte
	woken    bool // the poller has called readable once in this wait
}

// newIdleWaiter returns nil, and the read loop waits in the library, when
// the connection gives no access to its file descriptor.
func newIdleWaiter(c net.Conn, br *bufio.Reader) *idleWaiter {
	sc, ok := c.(syscall.Conn)
	if !ok || !canPeek {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &idleWaiter{br: br, raw: raw}
	w.readable = w.check
	return w
}

// wait returns when the next read will not block: a frame is buffered, the
// socket has bytes, or the read would fail (closed, deadline passed; the
// read then reports it).
func (w *idleWaiter) wait() {
	if w == nil || w.br.Buffered() > 0 {
		return
	}
	w.woken = false
	_ = w.raw.Read(w.readable)
}

// check is called by the poller, first at once and then each time the
// socket reports readable: false means "not yet, wait". The first call
// peeks, since bytes may have arrived before the wait began; a later call
// means the socket became readable (or the wait ended with an error, which
// the next read reports), so it returns true without another system call.
func (w *idleWaiter) check(fd uintptr) bool {
	if w.woken {
		return true
	}
	w.woken = true
	n, err := peek(fd, w.probe[:])
	return n > 0 || err != syscall.EAGAIN
}
