package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
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
// writes first: {"type":"…",…}.
func frameType(frame []byte) string {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(frame, []byte(prefix)) {
		return ""
	}
	rest := frame[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
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
// looks like those keys; scan_test.go checks it against encoding/json. The
// batchInfo passed to fn is reused: fn must not keep it.
func scanChanges(frame []byte, b *batchInfo, fn func(*batchInfo)) (canvas string, err error) {
	canvas, err = changesCanvas(frame)
	if err != nil {
		return "", err
	}
	i := bytes.Index(frame, keyBatches)
	if i < 0 {
		return "", errScan
	}
	rest := frame[i+len(keyBatches):]
	next := bytes.Index(rest, keySeq)
	for next >= 0 {
		rest = rest[next+len(keySeq):]
		seq, n := parseUint(rest)
		if n == 0 {
			return "", errScan
		}
		at := bytes.Index(rest, keyAt)
		if at < 0 {
			return "", errScan
		}
		atV, m := parseInt(rest[at+len(keyAt):])
		if m == 0 {
			return "", errScan
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
				return "", errScan
			}
			b.Stamps = append(b.Stamps, t)
		}
		fn(b)
	}
	return canvas, nil
}

// changesCanvas reads the canvas id of {"type":"changes","canvas":"…".
func changesCanvas(frame []byte) (string, error) {
	const prefix = `{"type":"changes","canvas":"`
	if !bytes.HasPrefix(frame, []byte(prefix)) {
		return "", errScan
	}
	rest := frame[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", errScan
	}
	return string(rest[:end]), nil
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
func cbidTime(cbid string) (int64, bool) {
	i := strings.LastIndexByte(cbid, '.')
	if i < 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(cbid[i+1:], 10, 64)
	return v, err == nil
}
