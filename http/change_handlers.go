package skerhttp

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// Limits of the ops and history routes.
const (
	MaxClientBatchIDLen = 64   // bytes of a client batch id (as on the WebSocket)
	DefaultHistoryLimit = 500  // batches per history page when limit is not given
	MaxHistoryLimit     = 1000 // largest limit a history request may ask for
)

type opsRequest struct {
	// ClientBatchID is the client's own id for the batch, journaled with it
	// so that the client can recognise its batch in history.
	ClientBatchID string          `json:"cbid"`
	Ops           json.RawMessage `json:"ops"`
}

type seqResponse struct {
	Seq uint64 `json:"seq"`
}

// submitOps: POST /api/v1/canvases/:id/ops {cbid?, ops} → 200 {seq} once
// the journal has the batch; owners and editors, and viewers for a batch
// of comment ops only. A rejected batch changes nothing and answers with
// its op error (the op's index in the message).
func (s *Server) submitOps(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	var req opsRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.ClientBatchID) > MaxClientBatchIDLen {
		return apierr.Invalid("cbid", "must be at most 64 bytes")
	}
	if req.Ops == nil {
		return (&canvas.OpError{Code: apierr.CodeInvalidOp, Message: "ops is required", Index: -1}).API()
	}
	ops, err := canvas.DecodeOps(req.Ops)
	if err != nil {
		return canvasError(err)
	}
	if !role.CanEdit() && !canvas.CommentOnly(ops) {
		return apierr.Forbidden("viewers cannot change a canvas; they may comment")
	}
	p, _ := PrincipalFrom(c)
	seq, err := s.cvs.Submit(c.UserContext(), id, p.UserID, req.ClientBatchID, ops)
	if err != nil {
		return canvasError(err)
	}
	return c.JSON(seqResponse{Seq: seq})
}

type historyResponse struct {
	Seq     uint64            `json:"seq"`
	Batches []json.RawMessage `json:"batches"`
}

// history: GET /api/v1/canvases/:id/history?since=N&limit=M → the canvas's
// seq and up to M committed batches after N, as journaled; any member.
// 410 history_trimmed when the history kept no longer reaches back to N.
func (s *Server) history(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.CanvasAccess(c, id); err != nil {
		return err
	}
	since, err := queryUint(c, "since", 0, 0, math.MaxInt64, "must be a seq: an integer of 0 or more")
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit", DefaultHistoryLimit, 1, MaxHistoryLimit, "must be an integer from 1 to 1000")
	if err != nil {
		return err
	}
	batches, head, err := s.cvs.History(c.UserContext(), id, since, int(limit))
	if errors.Is(err, canvases.ErrHistoryTrimmed) && since > head {
		// The history "does not reach" a seq that has not happened yet.
		return apierr.Invalid("since", "is after the canvas's seq "+strconv.FormatUint(head, 10))
	}
	if err != nil {
		return canvasError(err)
	}
	out := historyResponse{Seq: head, Batches: make([]json.RawMessage, len(batches))}
	for i, b := range batches {
		out.Batches[i] = b
	}
	return c.JSON(out)
}

// queryUint parses the query parameter name as an integer from lo to hi,
// def when it is absent or empty; otherwise 400 invalid_field with msg.
func queryUint(c *fiber.Ctx, name string, def, lo, hi uint64, msg string) (uint64, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, apierr.Invalid(name, msg)
	}
	return v, nil
}
