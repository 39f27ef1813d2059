package skerhttp

import (
	"io"
	"net"
	"sync"
	"time"
)

// A connection the server closes while the client's request is still
// partly unread (a request head over the buffer, answered 431; a body over
// its limit, answered 413) would otherwise be reset by the kernel, and a
// reset can reach the client before it has read the answer: the client
// sees "connection reset" instead of the error that names what is wrong.
// Lingering, as nginx's lingering_close does, sends the end of the stream
// first and then reads and discards what the client still sends, for a
// short while and up to a bound, before it closes.
const (
	lingerTimeout = 2 * time.Second
	lingerBytes   = 256 << 10
)

// Lingering wraps ln so that every connection it accepts that can close
// its writing half (a TCP connection, or one that passes CloseWrite on)
// closes by lingering: Close sends FIN at once and returns; the socket is
// released once the client closes its side, lingerTimeout passes or
// lingerBytes more have arrived. Serve only plain HTTP through it: a
// connection that another goroutine still reads from (a WebSocket) must
// close at once.
func Lingering(ln net.Listener) net.Listener { return lingerListener{ln} }

type lingerListener struct{ net.Listener }

// halfCloser is a connection that can end its writing half.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if hc, ok := c.(halfCloser); ok {
		return &lingerConn{halfCloser: hc}, nil
	}
	return c, nil
}

type lingerConn struct {
	halfCloser
	once sync.Once
	err  error
}

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		if c.halfCloser.CloseWrite() != nil {
			c.err = c.halfCloser.Close()
			return
		}
		// A read blocked elsewhere (the server's wait for the next
		// request on a kept-alive connection) ends with the deadline too.
		_ = c.halfCloser.SetReadDeadline(time.Now().Add(lingerTimeout))
		go func() {
			_, _ = io.CopyN(io.Discard, c.halfCloser, lingerBytes)
			_ = c.halfCloser.Close()
		}()
	})
	return c.err
}
