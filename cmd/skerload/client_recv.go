package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// The receiving side of a client: its read loop and what it does with each
// server frame.

func (c *client) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 512)
	for {
		kind, r, err := c.ws.NextReader()
		if err != nil {
			c.ended(err)
			return
		}
		buf, err = readAll(buf[:0], r)
		if err != nil {
			c.ended(err)
			return
		}
		if kind != websocket.TextMessage {
			c.run.Errors.Add("protocol:binary frame")
			continue
		}
		c.handle(buf)
	}
}

// readAll reads r to its end into buf, growing it as needed.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *client) handle(f []byte) {
	typ := frameType(f)
	if typ == "changes" {
		c.onChanges(f)
		return
	}
	switch typ {
	case "presence", "presence.leave", "pong", "left":
		return
	}
	var sf serverFrame
	if err := json.Unmarshal(f, &sf); err != nil {
		c.run.Errors.Add("protocol:undecodable frame")
		return
	}
	switch typ {
	case "ack":
		c.onAck(&sf)
	case "reject":
		c.run.C.Rejected.Add(1)
		if c.outcomes != nil && retryable(sf.Code) {
			c.run.Retries.Add(sf.Code)
		} else {
			c.run.Errors.Add("reject:" + sf.Code)
		}
		c.releaseSlot()
		c.tell(outcome{cbid: sf.CBID, code: sf.Code})
	case "joined":
		c.onJoinedFrame(f, &sf)
	case "error":
		c.run.Errors.Add("error:" + sf.Code)
		if jc := c.joinedTo.Load(); jc != nil && sf.Canvas == jc.id {
			select {
			case c.joined <- joinResult{err: fmt.Errorf("join %s: %s: %s", sf.Canvas, sf.Code, sf.Message)}:
			default:
			}
		}
	default:
		c.run.Errors.Add("protocol:unexpected " + typ)
	}
}

func (c *client) onJoinedFrame(f []byte, sf *serverFrame) {
	at := time.Now()
	c.lastSeq.Store(sf.Seq)
	if c.onJoined != nil {
		c.onJoined(f)
	}
	select {
	case c.joined <- joinResult{seq: sf.Seq, bytes: len(f), at: at}:
	default:
		c.run.Errors.Add("protocol:unexpected joined")
	}
}

func (c *client) onAck(sf *serverFrame) {
	now := time.Now().UnixNano()
	r := c.run
	r.C.Acked.Add(1)
	if jc := c.joinedTo.Load(); jc != nil && jc.id == sf.Canvas {
		jc.track.acked(sf.Seq)
	}
	if t, ok := cbidTime(sf.CBID); ok && r.inWindow(t) {
		r.Ack.Record(c.idx, time.Duration(now-t))
		r.C.WinAcked.Add(1)
		r.C.WinAckedOps.Add(c.batchOps.Load())
	}
	c.releaseSlot()
	c.tell(outcome{cbid: sf.CBID, seq: sf.Seq})
}

// tell passes a batch's answer to the sender waiting for it, if any.
func (c *client) tell(o outcome) {
	if c.outcomes == nil {
		return
	}
	select {
	case c.outcomes <- o:
	default:
		c.run.Errors.Add("protocol:answer nobody waited for")
	}
}

// onChanges checks that batches arrive in order without gaps and records
// the latency of every stamp sent inside the window.
func (c *client) onChanges(f []byte) {
	now := time.Now().UnixNano()
	r := c.run
	jc := c.joinedTo.Load()
	canvasID, err := scanChanges(f, &c.scratch, func(b *batchInfo) {
		last := c.lastSeq.Load()
		switch {
		case b.Seq == last+1:
		case b.Seq <= last:
			r.Errors.Add("protocol:duplicate batch")
		default:
			r.Errors.Add("protocol:gap in batches")
		}
		c.lastSeq.Store(max(last, b.Seq))
		r.C.Delivered.Add(1)
		if len(b.Stamps) == 0 || !r.inWindow(b.Stamps[0]) {
			return
		}
		r.Lat.Record(c.idx, time.Duration(now-b.Stamps[0]))
		r.Commit.Record(c.idx, time.Duration(now-b.At*int64(time.Millisecond)))
		r.C.WinDelivered.Add(1)
		r.C.WinDeliveredOps.Add(int64(b.Ops))
	})
	if err != nil {
		r.Errors.Add("protocol:unreadable changes")
		return
	}
	if jc == nil || canvasID != jc.id {
		r.Errors.Add("protocol:changes for a canvas not joined")
	}
}

// ended records why the connection ended, unless the harness closed it.
func (c *client) ended(err error) {
	reason := disconnectReason(err)
	c.lastErr.Store(&reason)
	if c.closing.Load() {
		return
	}
	c.run.Disc.Add(reason)
}

func (c *client) endReason() string {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return "unknown"
}

// disconnectReason names why a read failed, without addresses or ports, so
// that equal causes count together.
func disconnectReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "eof"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}
