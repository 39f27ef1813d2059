package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Frames as SKER's gateway sends them (gateway/frames.go). Receivers see
// far more "changes" frames than anything else, so those are scanned
// rather than decoded: the generator shares the machine's cores with the
// server, and every cycle it spends is one the server does not get.

// serverFrame is any frame but "changes", decoded in full.
type serverFrame struct {
	Type    string          `json:"type"`
	Canvas  string          `json:"canvas"`
	CBID    string          `json:"cbid"`
	Seq     uint64          `json:"seq"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Role    string          `json:"role"`
	Limits  helloLimits     `json:"limits"`
	Session string          `json:"session"`
	User    string          `json:"user"`
	Snap    json.RawMessage `json:"snapshot"`
}

type helloLimits struct {
	OpsPerSecond int `json:"ops_per_second"`
	OpsBurst     int `json:"ops_burst"`
	MaxCanvases  int `json:"max_canvases"`
}

// frameType reads the type of a server frame, which the gateway always
// writes first: {"type":"…",…}. The result is part of frame, so that
// telling frames apart allocates nothing (switch string(t) does not copy).
func frameType(frame []byte) []byte {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(frame, []byte(prefix)) {
		return nil
	}
	rest := frame[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil
	}
	return rest[:end]
}

// batchInfo is what a receiver needs of one committed batch: its seq, its
// commit time (unix ms) and the send times (unix ns) stamped in its ops as
// "data.t".
type batchInfo struct {
	Seq    uint64
	At     int64
	Ops    int
	Stamps []int64
}

var errScan = errors.New("changes frame not in the expected form")

var (
	keyBatches = []byte(`"batches":[`)
	keySeq     = []byte(`{"seq":`)
	keyAt      = []byte(`,"at":`)
	keyStamp   = []byte(`"data.t":`)
	keyOp      = []byte(`{"op":"`)
)

// scanChanges calls fn for each batch of a "changes" frame, in order. It
// relies on the encoding of journal.Committed (seq, author, at, cbid, ops
// in that order) and on the harness's own canvases holding no text that
// looks like those keys; frames_test.go checks it against encoding/json.
// The batchInfo passed to fn is reused: fn must not keep it, nor the
// canvas id, which is part of frame.
func scanChanges(frame []byte, b *batchInfo, fn func(*batchInfo)) (canvas []byte, err error) {
	canvas, err = changesCanvas(frame)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(frame, keyBatches)
	if i < 0 {
		return nil, errScan
	}
	rest := frame[i+len(keyBatches):]
	next := bytes.Index(rest, keySeq)
	for next >= 0 {
		rest = rest[next+len(keySeq):]
		seq, n := parseUint(rest)
		if n == 0 {
			return nil, errScan
		}
		at := bytes.Index(rest, keyAt)
		if at < 0 {
			return nil, errScan
		}
		atV, m := parseInt(rest[at+len(keyAt):])
		if m == 0 {
			return nil, errScan
		}
		next = bytes.Index(rest, keySeq)
		body := rest
		if next >= 0 {
			body = rest[:next]
		}
		*b = batchInfo{Seq: seq, At: atV, Ops: bytes.Count(body, keyOp), Stamps: b.Stamps[:0]}
		for {
			j := bytes.Index(body, keyStamp)
			if j < 0 {
				break
			}
			body = body[j+len(keyStamp):]
			t, k := parseInt(body)
			if k == 0 {
				return nil, errScan
			}
			b.Stamps = append(b.Stamps, t)
		}
		fn(b)
	}
	return canvas, nil
}

// changesCanvas reads the canvas id of {"type":"changes","canvas":"…".
func changesCanvas(frame []byte) ([]byte, error) {
	const prefix = `{"type":"changes","canvas":"`
	if !bytes.HasPrefix(frame, []byte(prefix)) {
		return nil, errScan
	}
	rest := frame[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, errScan
	}
	return rest[:end], nil
}

// ackInfo is what a sender needs of an ack; Canvas and CBID are parts of
// the frame.
type ackInfo struct {
	Canvas, CBID []byte
	Seq          uint64
}

// scanAck reads an ack in the form the gateway writes it (gateway/frames.go
// ackFrame: type, canvas, cbid unless empty, seq), without decoding it:
// senders get one per batch. ok is false for any other form (escaped
// strings, other keys, other order), which the caller then decodes with
// encoding/json.
func scanAck(frame []byte) (a ackInfo, ok bool) {
	rest, ok := bytes.CutPrefix(frame, []byte(`{"type":"ack","canvas":"`))
	if !ok {
		return a, false
	}
	if a.Canvas, rest, ok = plainString(rest); !ok {
		return a, false
	}
	if r, has := bytes.CutPrefix(rest, []byte(`,"cbid":"`)); has {
		if a.CBID, rest, ok = plainString(r); !ok {
			return a, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return a, false
	}
	seq, n := parseUint(rest)
	if n == 0 || string(rest[n:]) != "}" {
		return a, false
	}
	a.Seq = seq
	return a, true
}

// plainString reads a JSON string body up to its closing quote (the
// opening one already consumed) when it holds no escape.
func plainString(b []byte) (s, rest []byte, ok bool) {
	end := bytes.IndexByte(b, '"')
	if end < 0 || bytes.IndexByte(b[:end], '\\') >= 0 {
		return nil, nil, false
	}
	return b[:end], b[end+1:], true
}

// parseUint reads the decimal digits at the start of b; n is how many.
func parseUint(b []byte) (v uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n
}

func parseInt(b []byte) (int64, int) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, n := parseUint(b)
	if n == 0 {
		return 0, 0
	}
	if neg {
		return -int64(v), n + 1
	}
	return int64(v), n
}

// appendOpsFrame appends a client "ops" frame to buf. Its cbid is
// "<client>.<stamp>": the ack brings the send time back.
func appendOpsFrame(buf []byte, canvasID string, client int, stamp int64, ops func([]byte) []byte) []byte {
	buf = append(buf, `{"type":"ops","canvas":"`...)
	buf = append(buf, canvasID...)
	buf = append(buf, `","cbid":"`...)
	buf = strconv.AppendInt(buf, int64(client), 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, stamp, 10)
	buf = append(buf, `","ops":`...)
	buf = ops(buf)
	return append(buf, '}')
}

// stampOp appends a node.update op that stamps the send time on a node:
// {"op":"node.update","id":…,"set":{"data.t":nanos}} (and x when given,
// so that batches of many ops still carry one stamp).
func stampOp(buf []byte, nodeID string, nanos int64, stamp bool, x int) []byte {
	buf = append(buf, `{"op":"node.update","id":"`...)
	buf = append(buf, nodeID...)
	buf = append(buf, `","set":{`...)
	if stamp {
		buf = append(buf, `"data.t":`...)
		buf = strconv.AppendInt(buf, nanos, 10)
		if x < 0 {
			return append(buf, "}}"...)
		}
		buf = append(buf, ',')
	}
	buf = append(buf, `"x":`...)
	buf = strconv.AppendInt(buf, int64(x), 10)
	return append(buf, "}}"...)
}

// cbidTime reads the send time a sender puts in its client batch ids,
// "<client>.<unix nanos>".
func cbidTime(cbid []byte) (int64, bool) {
	i := bytes.LastIndexByte(cbid, '.')
	if i < 0 {
		return 0, false
	}
	digits := cbid[i+1:]
	v, n := parseInt(digits)
	return v, n > 0 && n == len(digits)
}
