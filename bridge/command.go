package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/textcheck"
)

// MaxClientBatchIDLen is the longest cbid, as on REST and WebSocket.
const MaxClientBatchIDLen = 64

// command is the body of a commands message.
type command struct {
	Canvas        string          `json:"canvas"`
	ClientBatchID string          `json:"cbid"`
	Ops           json.RawMessage `json:"ops"`
}

// job is one delivery with what could be read from it before
// authentication: a command that cannot be read is rejected only once its
// token is known to be good, as REST answers 401 before looking at a body.
type job struct {
	d      amqp.Delivery
	cmd    command
	ops    []canvas.Op
	badErr *rejection // why the body is refused; nil when it is a command
}

// lane is the key of the canvas a job is for: jobs of one lane are applied
// one after another, in delivery order.
func (j *job) lane() string {
	if j.badErr != nil {
		return ""
	}
	return j.cmd.Canvas
}

// cbid is the client batch id the canvas dedupes the batch by: the
// command's own, else its message_id (the hex SHA-256 of it when longer
// than MaxClientBatchIDLen), else none.
func (j *job) cbid() string {
	if j.cmd.ClientBatchID != "" {
		return j.cmd.ClientBatchID
	}
	return messageCBID(j.d.MessageId)
}

func messageCBID(messageID string) string {
	if len(messageID) <= MaxClientBatchIDLen {
		return messageID
	}
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:])
}

// rejection is a command's final refusal as the reply and the dead letter
// carry it: a code of the apierr or canvas table.
type rejection struct {
	Code    string
	Message string
	Field   string
	Index   int // of the offending op; -1 for the batch as a whole
}

func reject(e *apierr.Error) *rejection {
	return &rejection{Code: e.Code, Message: e.Message, Field: e.Field, Index: -1}
}

func opReject(e *canvas.OpError) *rejection {
	api := e.API()
	return &rejection{Code: api.Code, Message: api.Message, Index: e.Index}
}

// parse reads a delivery's body as a command, strictly, as REST reads a
// request body: one JSON object of known fields, nothing after it, text
// every input path accepts, a canonical canvas id, ops that decode.
func parse(d amqp.Delivery, maxBody int) *job {
	j := &job{d: d}
	j.badErr = j.read(maxBody)
	return j
}

func (j *job) read(maxBody int) *rejection {
	body := j.d.Body
	if ct := j.d.ContentType; ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return reject(apierr.New(http.StatusUnsupportedMediaType, apierr.CodeUnsupportedMedia,
				"content_type must be application/json or absent"))
		}
	}
	if len(body) > maxBody {
		return reject(apierr.New(http.StatusRequestEntityTooLarge, apierr.CodePayloadTooLarge,
			"message body is over "+strconv.Itoa(maxBody)+" bytes"))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return reject(apierr.BadRequest("message body is required"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j.cmd); err != nil {
		return reject(decodeError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return reject(apierr.BadRequest("message body must hold a single JSON object"))
	}
	if p := textcheck.JSON(body); p != nil {
		return reject(apierr.InvalidText(p.Path, p.Message()))
	}
	switch {
	case j.cmd.Canvas == "":
		return reject(apierr.Invalid("canvas", "is required"))
	case !canvases.ValidID(j.cmd.Canvas):
		return reject(apierr.NotFound("canvas"))
	case len(j.cmd.ClientBatchID) > MaxClientBatchIDLen:
		return reject(apierr.Invalid("cbid", "must be at most 64 bytes"))
	case j.cmd.Ops == nil:
		return opReject(&canvas.OpError{Code: apierr.CodeInvalidOp, Message: "ops is required", Index: -1})
	}
	ops, err := canvas.DecodeOps(j.cmd.Ops)
	if err != nil {
		var opErr *canvas.OpError
		if errors.As(err, &opErr) {
			return opReject(opErr)
		}
		return reject(apierr.BadRequest("malformed ops"))
	}
	j.ops = ops
	return nil
}

func decodeError(err error) *apierr.Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return apierr.BadRequest("message body must be a JSON object")
		}
		return apierr.Invalid(typeErr.Field, "has the wrong JSON type")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		e := apierr.BadRequest("unknown field " + name)
		e.Field = strings.Trim(name, `"`)
		return e
	}
	return apierr.BadRequest("malformed JSON")
}

// bearerToken returns the API token of the delivery's authorization
// header ("Bearer sker_…"); the header name is matched in any case.
func bearerToken(h amqp.Table) (string, *rejection) {
	var raw string
	for k, v := range h {
		if !strings.EqualFold(k, "authorization") {
			continue
		}
		switch v := v.(type) {
		case string:
			raw = v
		case []byte:
			raw = string(v)
		}
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(raw), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", reject(apierr.Unauthorized("an authorization header \"Bearer <API token>\" is required"))
	}
	if !strings.HasPrefix(tok, auth.APITokenPrefix) {
		return "", reject(apierr.Unauthorized("commands take API tokens (" + auth.APITokenPrefix + "…), not access tokens"))
	}
	return tok, nil
}

// Replies sent to a command's reply_to.
type (
	ackReply struct {
		Type   string `json:"type"` // "ack"
		Canvas string `json:"canvas"`
		CBID   string `json:"cbid,omitempty"`
		Seq    uint64 `json:"seq"`
	}
	rejectReply struct {
		Type    string `json:"type"` // "reject"
		Canvas  string `json:"canvas,omitempty"`
		CBID    string `json:"cbid,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		Index   *int   `json:"index,omitempty"`
	}
)

// outcome is the final answer to a command.
type outcome struct {
	seq      uint64
	rej      *rejection // nil: committed as seq
	attempts int
}

func (o *outcome) reply(j *job) []byte {
	canvasID, cbid := j.cmd.Canvas, ""
	if j.badErr == nil {
		cbid = j.cbid()
	} else if !canvases.ValidID(canvasID) {
		canvasID = ""
	}
	var v any
	if o.rej == nil {
		v = ackReply{Type: "ack", Canvas: canvasID, CBID: cbid, Seq: o.seq}
	} else {
		r := rejectReply{Type: "reject", Canvas: canvasID, CBID: cbid, Code: o.rej.Code, Message: o.rej.Message, Field: o.rej.Field}
		if o.rej.Index >= 0 {
			idx := o.rej.Index
			r.Index = &idx
		}
		v = r
	}
	b, _ := json.Marshal(v) // plain strings and numbers: cannot fail
	return b
}
