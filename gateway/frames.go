package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/textcheck"
)

// inFrame is any frame a client sends; Type says which fields matter.
type inFrame struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`     // ping: echoed in pong
	Token  string `json:"token,omitempty"`  // auth
	Canvas string `json:"canvas,omitempty"` // join, leave, ops, presence
	// Since: join; absent means "send a snapshot".
	Since *uint64     `json:"since,omitempty"`
	CBID  string      `json:"cbid,omitempty"` // ops: client batch id
	Ops   []canvas.Op `json:"ops,omitempty"`
	// Presence fields.
	Cursor    *cursor  `json:"cursor,omitempty"`
	Selection []string `json:"selection,omitempty"`
	Name      string   `json:"name,omitempty"`
	Color     string   `json:"color,omitempty"`
}

type cursor struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Frame types.
const (
	typeAuth     = "auth"
	typeJoin     = "join"
	typeLeave    = "leave"
	typeOps      = "ops"
	typePresence = "presence"
	typePing     = "ping"
)

// Limits on presence content.
const (
	maxSelection = 1000
	maxNameLen   = 100
	maxCBIDLen   = 64
)

var errBadFrame = errors.New("bad frame")

// textError is a frame that decodes but holds text every input path
// refuses (textcheck): decodeFrame returns the frame with it, so that the
// frame can be answered (an ops frame with a reject, like any batch).
type textError struct{ p *textcheck.Problem }

func (e *textError) Error() string { return e.p.Error() }

// opError is the rejection of an ops frame for its text: invalid_text,
// with the op's index when the text is in one of its ops.
func (e *textError) opError() *canvas.OpError {
	if rest, ok := strings.CutPrefix(e.p.Path, "ops["); ok {
		return canvas.TextError(&textcheck.Problem{Path: "[" + rest, Key: e.p.Key, Reason: e.p.Reason})
	}
	return &canvas.OpError{Code: apierr.CodeInvalidText, Message: e.p.Error(), Index: -1}
}

// frameFields lists the fields each frame type takes besides "type".
var frameFields = map[string][]string{
	typeAuth:     {"token"},
	typeJoin:     {"canvas", "since"},
	typeLeave:    {"canvas"},
	typeOps:      {"canvas", "cbid", "ops"},
	typePresence: {"canvas", "cursor", "selection", "name", "color"},
	typePing:     {"id"},
}

// decodeFrame decodes one client frame strictly: unknown fields, unknown
// types, data after the frame and fields that do not fit the type are
// errors (errBadFrame, and no frame). An ops frame without ops is not: it
// is answered like an empty batch (reject empty_batch), with its cbid. A
// frame that decodes but holds a string that is not valid UTF-8 or holds
// U+0000 or a lone surrogate is returned with a *textError.
func decodeFrame(data []byte) (*inFrame, error) {
	var f inFrame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	// Not dec.More(): it reports false for a trailing ']' or '}'.
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, fmt.Errorf("%w: data after the frame", errBadFrame)
	}
	allowed, known := frameFields[f.Type]
	switch {
	case f.Type == "":
		return nil, fmt.Errorf("%w: type is required", errBadFrame)
	case !known:
		return nil, fmt.Errorf("%w: unknown type %q", errBadFrame, f.Type)
	}
	if extra := f.extraField(allowed); extra != "" {
		return nil, fmt.Errorf("%w: %s does not take %q", errBadFrame, f.Type, extra)
	}
	switch f.Type {
	case typeAuth:
		if f.Token == "" {
			return nil, fmt.Errorf("%w: auth needs a token", errBadFrame)
		}
	case typeJoin, typeLeave, typePresence, typeOps:
		if f.Canvas == "" {
			return nil, fmt.Errorf("%w: %s needs a canvas", errBadFrame, f.Type)
		}
	}
	if len(f.CBID) > maxCBIDLen {
		return nil, fmt.Errorf("%w: cbid is over %d bytes", errBadFrame, maxCBIDLen)
	}
	if len(f.Selection) > maxSelection || len(f.Name) > maxNameLen || len(f.Color) > 32 {
		return nil, fmt.Errorf("%w: presence over its limits (selection %d ids, name %d bytes, color 32 bytes)", errBadFrame, maxSelection, maxNameLen)
	}
	if p := textcheck.JSON(data); p != nil {
		return &f, &textError{p: p}
	}
	return &f, nil
}

// extraField returns the first field set in f that is not in allowed, or "".
// An empty or null value counts as absent.
func (f *inFrame) extraField(allowed []string) string {
	present := [...]struct {
		name string
		set  bool
	}{
		{"id", f.ID != ""}, {"token", f.Token != ""}, {"canvas", f.Canvas != ""},
		{"since", f.Since != nil}, {"cbid", f.CBID != ""}, {"ops", len(f.Ops) > 0},
		{"cursor", f.Cursor != nil}, {"selection", len(f.Selection) > 0},
		{"name", f.Name != ""}, {"color", f.Color != ""},
	}
	for _, p := range present {
		if p.set && !slices.Contains(allowed, p.name) {
			return p.name
		}
	}
	return ""
}

// Server frames. Each is marshalled once where it is built.
type (
	helloFrame struct {
		Type    string `json:"type"`
		Session string `json:"session"`
		User    string `json:"user"`
		Limits  Limits `json:"limits"`
	}
	joinedFrame struct {
		Type     string         `json:"type"`
		Canvas   string         `json:"canvas"`
		Role     string         `json:"role"`
		Seq      uint64         `json:"seq"`
		Snapshot *canvas.Export `json:"snapshot,omitempty"`
	}
	ackFrame struct {
		Type   string `json:"type"`
		Canvas string `json:"canvas"`
		CBID   string `json:"cbid,omitempty"`
		Seq    uint64 `json:"seq"`
	}
	rejectFrame struct {
		Type    string `json:"type"`
		Canvas  string `json:"canvas"`
		CBID    string `json:"cbid,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Index   *int   `json:"index,omitempty"`
	}
	errorFrame struct {
		Type    string `json:"type"`
		Canvas  string `json:"canvas,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	leftFrame struct {
		Type   string `json:"type"`
		Canvas string `json:"canvas"`
	}
	pongFrame struct {
		Type string `json:"type"`
		ID   string `json:"id,omitempty"`
	}
	presenceFrame struct {
		Type      string   `json:"type"` // presence | presence.leave
		Canvas    string   `json:"canvas"`
		Session   string   `json:"session"`
		User      string   `json:"user,omitempty"`
		Name      string   `json:"name,omitempty"`
		Color     string   `json:"color,omitempty"`
		Cursor    *cursor  `json:"cursor,omitempty"`
		Selection []string `json:"selection,omitempty"`
	}
)

// ackJSON encodes an ack frame as json.Marshal of ackFrame does, without
// reflection: one is sent for every batch.
func ackJSON(canvasID, cbid string, seq uint64) []byte {
	b := make([]byte, 0, 48+len(canvasID)+len(cbid))
	b = append(b, `{"type":"ack","canvas":`...)
	b = canvas.AppendJSONString(b, canvasID)
	if cbid != "" {
		b = append(b, `,"cbid":`...)
		b = canvas.AppendJSONString(b, cbid)
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, '}')
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode %T: %v", v, err))
	}
	return b
}
