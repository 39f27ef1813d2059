package gateway

import (
	"errors"
	"io"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/apierr"
)

// errKilled ends the read loop of a killed session from the pong handler.
var errKilled = errors.New("gateway: session closed")

// errNotUTF8 is the reason of a close with 1007.
const errNotUTF8 = "text frame is not valid UTF-8"

// readLoop reads frames until the connection ends or the session is killed.
func (s *session) readLoop() {
	extend := s.idleDeadline()
	if !extend() {
		return
	}
	s.setControlHandlers(extend)
	for {
		s.idle.wait()
		kind, bp, data, err := s.readFrame()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.kill(apierr.CloseTooBig, "frame over the size limit")
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				s.kill(apierr.CloseIdle, "no frame or pong in time")
			}
			return
		}
		if !extend() {
			putFrameBuf(bp, data)
			return // closed: frames still on their way are not handled
		}
		if kind != websocket.TextMessage {
			putFrameBuf(bp, data)
			s.badFrame("frames must be JSON text")
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text message that is not UTF-8 fails the
			// connection. Its frame is not decoded, which would replace
			// the bad bytes in some fields and keep them in others.
			putFrameBuf(bp, data)
			s.kill(apierr.CloseInvalidUTF8, errNotUTF8)
			continue
		}
		// The decoded frame copies what it keeps (strings, raw values), so
		// the buffer goes back at once.
		f, err := decodeFrame(data)
		putFrameBuf(bp, data)
		var te *textError
		if errors.As(err, &te) {
			s.refuseText(f, te)
			continue
		}
		if err != nil {
			s.badFrame(err.Error())
			continue
		}
		s.g.metrics.frames.WithLabelValues(f.Type).Inc()
		s.handle(f)
	}
}

// idleDeadline returns extend, which pushes the idle deadline back unless
// the session was killed, whose shorter deadline must stand; it reports
// whether the session still runs. Checking after setting closes the race
// with a concurrent kill, which closes done before it sets its deadline.
// Moving the deadline costs a timer update, so it moves only once a tenth
// of the idle time has passed since the last move.
func (s *session) idleDeadline() (extend func() bool) {
	idle := s.g.cfg.PingInterval * 5 / 2
	var extended time.Time
	return func() bool {
		if now := time.Now(); now.Sub(extended) > idle/10 {
			_ = s.conn.SetReadDeadline(now.Add(idle))
			extended = now
		}
		return !s.killed()
	}
}

// setControlHandlers handles pings, pongs and closes. The library would
// answer pings and closes itself, writing from the read loop while the
// write loop writes: the answers go through the write loop instead.
func (s *session) setControlHandlers(extend func() bool) {
	s.conn.SetPongHandler(func(string) error {
		if !extend() {
			return errKilled
		}
		return nil
	})
	s.conn.SetPingHandler(func(data string) error {
		s.enqueue(outMsg{op: opPong, data: []byte(data)})
		if !extend() {
			return errKilled
		}
		return nil
	})
	s.conn.SetCloseHandler(func(code int, _ string) error {
		if w, ok := s.conn.NetConn().(*closeWatch); ok && code == websocket.CloseNoStatusReceived && w.oneByteClose() {
			s.kill(apierr.CloseBadCloseFrame, "close frame with a one-byte payload")
			return nil
		}
		s.kill(apierr.CloseNormal, "")
		return nil
	})
}

// readFrame reads the next message into a buffer from frameBufs; the caller
// returns it with putFrameBuf once done with the data.
func (s *session) readFrame() (kind int, bp *[]byte, data []byte, err error) {
	kind, r, err := s.conn.NextReader()
	if err != nil {
		return 0, nil, nil, err
	}
	bp = frameBufs.Get().(*[]byte)
	data = (*bp)[:0]
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return kind, bp, data, nil
		}
		if err != nil {
			putFrameBuf(bp, data)
			return 0, nil, nil, err
		}
	}
}

// maxBadFrames malformed frames close the connection with 1002.
const maxBadFrames = 20

func (s *session) badFrame(msg string) {
	s.enqueue(outMsg{data: mustJSON(errorFrame{Type: "error", Code: apierr.CodeBadFrame, Message: msg})})
	s.countBadFrame()
}

// refuseText answers a frame holding refused text: an ops frame like any
// batch, with a reject (invalid_text; nothing is committed); any other
// frame with an error of that code, which counts as a malformed frame.
func (s *session) refuseText(f *inFrame, te *textError) {
	if f.Type == typeOps {
		s.rejectOp(f, te.opError())
		return
	}
	s.sendError(f.Canvas, apierr.CodeInvalidText, te.Error())
	s.countBadFrame()
}

// countBadFrame counts a malformed frame, after its error frame.
func (s *session) countBadFrame() {
	s.badFrames++
	if s.badFrames >= maxBadFrames {
		s.kill(apierr.CloseProtocolError, "too many malformed frames")
	}
}
