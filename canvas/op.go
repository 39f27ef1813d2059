package canvas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/textcheck"
)

// Op names.
const (
	OpNodeAdd       = "node.add"
	OpNodeUpdate    = "node.update"
	OpNodeDelete    = "node.delete"
	OpEdgeAdd       = "edge.add"
	OpEdgeDelete    = "edge.delete"
	OpCanvasUpdate  = "canvas.update"
	OpCommentAdd    = "comment.add"
	OpCommentUpdate = "comment.update"
	OpCommentDelete = "comment.delete"
)

// Op is one change. Which fields matter depends on Op:
//
//	node.add      id, kind, x, y, w, h, z, data
//	node.update   id, set (x, y, w, h, z or "data.<key>"), unset ("data.<key>")
//	node.delete   id (its edges go with it)
//	edge.add      id, source, target, kind, data
//	edge.delete   id
//	canvas.update title, settings (a key set to null is removed)
//	comment.add   id, text, mentions, and either thread (a reply) or
//	              node and/or x, y (a new thread's anchor)
//	comment.update id, text and mentions (its author only), resolved (a
//	              thread's first comment, by anyone who may comment)
//	comment.delete id (its author only; a thread's replies go with it)
type Op struct {
	Op       string                     `json:"op"`
	ID       string                     `json:"id,omitempty"`
	Kind     string                     `json:"kind,omitempty"`
	X        *float64                   `json:"x,omitempty"`
	Y        *float64                   `json:"y,omitempty"`
	W        *float64                   `json:"w,omitempty"`
	H        *float64                   `json:"h,omitempty"`
	Z        *float64                   `json:"z,omitempty"`
	Data     map[string]json.RawMessage `json:"data,omitempty"`
	Set      map[string]json.RawMessage `json:"set,omitempty"`
	Unset    []string                   `json:"unset,omitempty"`
	Source   string                     `json:"source,omitempty"`
	Target   string                     `json:"target,omitempty"`
	Title    *string                    `json:"title,omitempty"`
	Settings map[string]json.RawMessage `json:"settings,omitempty"`
	Thread   string                     `json:"thread,omitempty"`
	Node     string                     `json:"node,omitempty"`
	Text     *string                    `json:"text,omitempty"`
	Mentions []string                   `json:"mentions,omitempty"`
	Resolved *bool                      `json:"resolved,omitempty"`
}

// Batch is a list of ops that commits atomically, with who sent it and the
// commit time (unix milliseconds) that application stamps on what it
// changes. The time is chosen once by the actor and journaled, so replay
// reproduces the same state.
type Batch struct {
	Author string `json:"author"`
	At     int64  `json:"at"`
	Ops    []Op   `json:"ops"`
}

// DecodeOps decodes a JSON array of ops strictly: unknown fields, trailing
// data and non-JSON are errors with code invalid_op. A string that is not
// valid UTF-8 or holds U+0000 or a lone surrogate is an error with code
// invalid_text (see TextError): decoded, such bytes would be replaced in
// some fields and kept raw in others.
func DecodeOps(raw []byte) ([]Op, error) {
	var ops []Op
	if err := decodeStrict(raw, &ops); err != nil {
		return nil, &OpError{Code: apierr.CodeInvalidOp, Message: err.Error(), Index: -1}
	}
	if ops == nil { // the input was null, which decodes without error
		return nil, &OpError{Code: apierr.CodeInvalidOp, Message: "malformed ops: want a JSON array", Index: -1}
	}
	if p := textcheck.JSON(raw); p != nil {
		return nil, TextError(p)
	}
	return ops, nil
}

// TextError is the rejection of a batch for refused text found in its JSON
// array of ops (textcheck.JSON of the array): code invalid_text, the index
// of the op that holds it, and a message that names the field within the
// op ("data.text: holds U+0000 …").
func TextError(p *textcheck.Problem) *OpError {
	e := &OpError{Code: apierr.CodeInvalidText, Message: p.Error(), Index: -1}
	rest, ok := strings.CutPrefix(p.Path, "[")
	if !ok {
		return e
	}
	num, field, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(num)
	if !ok || err != nil {
		return e
	}
	e.Index = i
	e.Message = (&textcheck.Problem{Path: strings.TrimPrefix(field, "."), Key: p.Key, Reason: p.Reason}).Error()
	return e
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed ops: %w", err)
	}
	// Not dec.More(): it reports false for a trailing ']' or '}'.
	if rest := raw[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return fmt.Errorf("malformed ops: data after the array")
	}
	return nil
}
