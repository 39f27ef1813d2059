package testkit

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback between a client under test and a real
// server, for failure tests: Cut closes every connection through it, as a
// network failure would, and Refuse makes it close new connections at once,
// as a server that is down would (the server itself keeps running for
// everyone else).
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]net.Conn // client → upstream
	refuse bool
	wg     sync.WaitGroup
}

// StartProxy listens on a loopback port and forwards every connection to
// target. It stops when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]net.Conn{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection through the proxy now and returns how many
// client connections it closed.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c, up := range p.conns {
		_ = c.Close()
		_ = up.Close()
	}
	clear(p.conns)
	return n
}

// Refuse, on, cuts every connection and closes each new one at once; off,
// the proxy forwards again.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
	if on {
		p.Cut()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = up
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up, c)
		go p.pipe(up, c, c)
	}
}

// pipe copies from src to dst; when either side ends, both close and the
// client connection is forgotten.
func (p *Proxy) pipe(dst, src, client net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, client)
	p.mu.Unlock()
}
