package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// The routing wire format, version 1. A node asks the owner of a canvas
// with a NATS request on the owner's natsname ClusterNode subject; the
// body is one JSON object:
//
//	{"v": 1, "op": "submit", "canvas": "<id>", "author": "<user>", "cbid": "<client batch id>",
//	 "ops": [<canvas.Op>...], "seq": <since>, "limit": <n>,
//	 "node": "<card id>", "run": "<run id>", "result": {<AI result>}}
//
// op is one of submit, snapshot, since, history, forget, finish_ai_run,
// checkpoint (seq: the seq the checkpoint must cover; the answer's seq is
// the stored checkpoint's) and epoch;
// only the fields of its call are set (seq and limit for since and
// history, node, run and result for finish_ai_run). The answer is one
// JSON object on the request's reply subject:
//
//	{"v": 1, "seq": <seq>, "epoch": "<epoch>", "live": true, "export": {<canvas.Export>}, "catch_up": {"seq": <seq>,
//	 "batches": [...], "snapshot": {<canvas.Export>}}, "batches": [...],
//	 "error": {"kind": "<kind>", "message": "<text>", "holder": "<node>", "code": "<op error code>", "index": <op index>}}
//
// seq is a submit's seq, or history's current seq (with the error
// history_trimmed too), or the seq an epoch's live actor has committed;
// epoch answers epoch, an operator's question, and live says whether
// the canvas is live on the node asked (it is answered by that node
// whoever owns the canvas, and activates nothing); batches are the
// encoded journal.Committed batches, carried as the JSON they are. error
// is set instead of the results: its kind names the error of package
// canvases it is (not_owner with holder, rejected for a *canvas.OpError
// with code, index and its message, not_found, unavailable, outcome_unknown,
// history_trimmed, stale_run), or bad_request and internal for the others,
// and message is the error's text, so that the caller's errors.Is and
// errors.As match what the owner's canvases returned.
//
// An answer longer than the connection's max payload comes in parts: each
// a message with the headers Sker-Part (1 to n) and Sker-Parts (n), in
// order, whose bodies joined are the answer. A request must fit in one
// message. A node answers a request of another version with bad_request.
const wireVersion = 1

// Headers of an answer sent in parts.
const (
	headerPart  = "Sker-Part"
	headerParts = "Sker-Parts"
)

// The ops of the wire format.
const (
	opSubmit      = "submit"
	opSnapshot    = "snapshot"
	opSince       = "since"
	opHistory     = "history"
	opForget      = "forget"
	opFinishAIRun = "finish_ai_run"
	opEpoch       = "epoch"
	opCheckpoint  = "checkpoint"
)

type wireRequest struct {
	V      int           `json:"v"`
	Op     string        `json:"op"`
	Canvas string        `json:"canvas"`
	Author string        `json:"author,omitempty"`
	CBID   string        `json:"cbid,omitempty"`
	Ops    []canvas.Op   `json:"ops,omitempty"`
	Seq    uint64        `json:"seq,omitempty"`
	Limit  int           `json:"limit,omitempty"`
	Node   string        `json:"node,omitempty"`
	Run    string        `json:"run,omitempty"`
	Result *wireAIResult `json:"result,omitempty"`
}

type wireAIResult struct {
	Status       string `json:"status"`
	Text         string `json:"text,omitempty"`
	Error        string `json:"error,omitempty"`
	InputTokens  int    `json:"input_tokens,omitempty"`
	OutputTokens int    `json:"output_tokens,omitempty"`
}

type wireReply struct {
	V       int               `json:"v"`
	Seq     uint64            `json:"seq,omitempty"`
	Epoch   string            `json:"epoch,omitempty"`
	Live    bool              `json:"live,omitempty"`
	Export  *canvas.Export    `json:"export,omitempty"`
	CatchUp *wireCatchUp      `json:"catch_up,omitempty"`
	Batches []json.RawMessage `json:"batches,omitempty"`
	Error   *wireError        `json:"error,omitempty"`
}

type wireCatchUp struct {
	Seq      uint64            `json:"seq"`
	Batches  []json.RawMessage `json:"batches,omitempty"`
	Snapshot *canvas.Export    `json:"snapshot,omitempty"`
}

type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Holder  string `json:"holder,omitempty"`
	Code    string `json:"code,omitempty"`
	Index   int    `json:"index,omitempty"`
}

// Kinds of wireError beyond the errors of package canvases.
const (
	kindNotOwner   = "not_owner"
	kindRejected   = "rejected"
	kindBadRequest = "bad_request"
	kindInternal   = "internal"
)

// sentinelKinds are the errors of package canvases by kind, in the order
// an error is matched against them: an answer that did not come for a
// batch wraps ErrOutcomeUnknown, which comes first.
var sentinelKinds = []struct {
	kind string
	err  error
}{
	{"outcome_unknown", canvases.ErrOutcomeUnknown},
	{"not_found", canvases.ErrNotFound},
	{"history_trimmed", canvases.ErrHistoryTrimmed},
	{"stale_run", canvases.ErrStaleRun},
	{"unavailable", canvases.ErrUnavailable},
}

// outcome is what a call answered, from Local or decoded from a reply.
type outcome struct {
	seq     uint64
	export  canvas.Export
	catchUp canvases.CatchUp
	batches [][]byte
	epoch   string // epoch's answer, with live
	live    bool
	err     error
}

// encodeError is err as the wire carries it. A context error of the
// answering node is not carried: the caller's ctx did not end.
func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error()}
	var opErr *canvas.OpError
	var notOwner *canvases.NotOwnerError
	var bad *badRequestError
	switch {
	case errors.As(err, &opErr):
		// A rejection carries its fields, from which its text is made.
		w.Kind, w.Code, w.Message, w.Index = kindRejected, opErr.Code, opErr.Message, opErr.Index
	case errors.As(err, &notOwner):
		w.Kind, w.Holder = kindNotOwner, notOwner.Holder
	case errors.As(err, &bad):
		w.Kind = kindBadRequest
	default:
		w.Kind = kindInternal
		for _, s := range sentinelKinds {
			if errors.Is(err, s.err) {
				w.Kind = s.kind
				break
			}
		}
	}
	return w
}

// decodeError is the error the wire carries, for canvasID: errors.Is and
// errors.As match it as they matched the error the owner returned, and its
// text is that error's.
func decodeError(canvasID, node string, w *wireError) error {
	if w == nil {
		return nil
	}
	var cause error
	switch w.Kind {
	case kindRejected:
		return &canvas.OpError{Code: w.Code, Message: w.Message, Index: w.Index}
	case kindNotOwner:
		cause = &canvases.NotOwnerError{CanvasID: canvasID, Holder: w.Holder}
		if cause.Error() == w.Message {
			return cause
		}
	case kindBadRequest, kindInternal:
		return fmt.Errorf("cluster: node %s answered for canvas %s: %s", node, canvasID, w.Message)
	default:
		for _, s := range sentinelKinds {
			if s.kind == w.Kind {
				cause = s.err
			}
		}
		if cause == nil {
			return fmt.Errorf("cluster: node %s answered for canvas %s an error of unknown kind %q: %s", node, canvasID, w.Kind, w.Message)
		}
	}
	return &remoteError{text: w.Message, cause: cause}
}

// remoteError is an error the owner returned: its text, and the error of
// package canvases it matched.
type remoteError struct {
	text  string
	cause error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.cause }

// badRequestError is a request this node cannot read.
type badRequestError struct{ text string }

func (e *badRequestError) Error() string { return e.text }

// encodeReply is o as the wire carries it. HTML characters are not
// escaped, so the encoded batches keep their bytes.
func encodeReply(op string, o outcome) ([]byte, error) {
	rep := wireReply{V: wireVersion, Error: encodeError(o.err)}
	if op == opHistory {
		rep.Seq = o.seq // with ErrHistoryTrimmed too
	}
	if o.err == nil {
		switch op {
		case opSubmit:
			rep.Seq = o.seq
		case opSnapshot:
			rep.Export = &o.export
		case opSince:
			rep.CatchUp = &wireCatchUp{Seq: o.catchUp.Seq, Batches: rawBatches(o.catchUp.Batches), Snapshot: o.catchUp.Snapshot}
		case opHistory:
			rep.Seq, rep.Batches = o.seq, rawBatches(o.batches)
		case opEpoch:
			rep.Seq, rep.Epoch, rep.Live = o.seq, o.epoch, o.live
		case opCheckpoint:
			rep.Seq = o.seq
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		return nil, fmt.Errorf("cluster: encode the answer to %s: %w", op, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeReply is the outcome of op carried by data, from node.
func decodeReply(op, canvasID, node string, data []byte) outcome {
	var rep wireReply
	if err := json.Unmarshal(data, &rep); err != nil {
		return outcome{err: fmt.Errorf("cluster: node %s answered %s of canvas %s with a bad body: %w", node, op, canvasID, err)}
	}
	if rep.Error != nil {
		return outcome{seq: rep.Seq, err: decodeError(canvasID, node, rep.Error)}
	}
	o := outcome{seq: rep.Seq, batches: byteBatches(rep.Batches), epoch: rep.Epoch, live: rep.Live}
	if rep.Export != nil {
		o.export = *rep.Export
	}
	if rep.CatchUp != nil {
		o.catchUp = canvases.CatchUp{Seq: rep.CatchUp.Seq, Batches: byteBatches(rep.CatchUp.Batches), Snapshot: rep.CatchUp.Snapshot}
	}
	return o
}

func rawBatches(bs [][]byte) []json.RawMessage {
	if bs == nil {
		return nil
	}
	out := make([]json.RawMessage, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

func byteBatches(rs []json.RawMessage) [][]byte {
	if rs == nil {
		return nil
	}
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

func toWireAIResult(r canvases.AIResult) *wireAIResult {
	return &wireAIResult{Status: r.Status, Text: r.Text, Error: r.Error, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens}
}

func (w *wireAIResult) result() canvases.AIResult {
	if w == nil {
		return canvases.AIResult{}
	}
	return canvases.AIResult{Status: w.Status, Text: w.Text, Error: w.Error, InputTokens: w.InputTokens, OutputTokens: w.OutputTokens}
}
