package gateway

import (
	"encoding/binary"
	"net"
)

// closeWatch is a connection as the WebSocket library reads it, following
// the headers of the frames the client sends only to learn the payload
// length of its first close frame. The library reports a close frame
// without a payload and one with a single byte alike (no status code), but
// RFC 6455 (§5.5.1) allows the first and not the second, which is answered
// with 1002. Only the connection's read loop reads it.
type closeWatch struct {
	net.Conn
	hdr      [14]byte // the frame header being read
	n        int      // bytes of hdr read
	skip     uint64   // payload bytes of the current frame still to pass
	closed   bool     // the first close frame's header has been read
	closeLen uint64   // its payload length
}

func (w *closeWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if !w.closed {
		w.follow(p[:n])
	}
	return n, err
}

// oneByteClose reports whether the client's first close frame carried a
// one-byte payload.
func (w *closeWatch) oneByteClose() bool { return w.closed && w.closeLen == 1 }

// follow reads b as the next bytes of the client's frames.
func (w *closeWatch) follow(b []byte) {
	for len(b) > 0 && !w.closed {
		if w.skip > 0 {
			k := min(w.skip, uint64(len(b)))
			w.skip -= k
			b = b[k:]
			continue
		}
		w.hdr[w.n] = b[0]
		w.n++
		b = b[1:]
		if w.n < 2 || w.n < headerLen(w.hdr[1]) {
			continue
		}
		length := uint64(w.hdr[1] & 0x7f)
		switch length {
		case 126:
			length = uint64(binary.BigEndian.Uint16(w.hdr[2:4]))
		case 127:
			length = binary.BigEndian.Uint64(w.hdr[2:10])
		}
		if w.hdr[0]&0x0f == 0x8 { // close
			w.closed, w.closeLen = true, length
		}
		w.skip, w.n = length, 0
	}
}

// headerLen is the length of a client frame header whose second byte is
// b1: two bytes, the extended length, and the masking key.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}
