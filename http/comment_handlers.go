package skerhttp

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
)

// Comments are canvas content: they are added, edited, resolved and
// deleted by comment ops (POST /ops or WebSocket, docs/comments.md), which
// viewers may send too. These routes read them and keep each member's
// read marker.

// commentsView is GET /api/v1/canvases/:id/comments.
type commentsView struct {
	Seq      uint64            `json:"seq"`
	Read     uint64            `json:"read"`
	Comments []*canvas.Comment `json:"comments"`
}

// listComments: GET /api/v1/canvases/:id/comments → {seq, read, comments}:
// every committed comment of the canvas in id order, and the seq up to
// which the caller has read them; any member.
func (s *Server) listComments(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.CanvasAccess(c, id); err != nil {
		return err
	}
	ex, err := s.cvs.Snapshot(c.UserContext(), id)
	if err != nil {
		return canvasError(err)
	}
	p, _ := PrincipalFrom(c)
	read, err := s.st.CommentsRead(c.UserContext(), id, p.UserID)
	if err != nil {
		return fmt.Errorf("comments read: %w", err)
	}
	return c.JSON(commentsView{Seq: ex.Seq, Read: read, Comments: nonNilComments(ex.Comments)})
}

type readRequest struct {
	Seq *int64 `json:"seq"`
}

// readComments: POST /api/v1/canvases/:id/comments/read {seq} → 204: the
// caller has read the canvas's comments up to seq (a seq lower than the
// one recorded changes nothing); any member. Their unread mentions in the
// canvas list count only comments after it.
func (s *Server) readComments(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.CanvasAccess(c, id); err != nil {
		return err
	}
	var req readRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Seq == nil || *req.Seq < 0 {
		return apierr.Invalid("seq", "is required: the seq up to which the comments were read, 0 or more")
	}
	p, _ := PrincipalFrom(c)
	if err := s.st.MarkCommentsRead(c.UserContext(), id, p.UserID, uint64(*req.Seq)); err != nil {
		return fmt.Errorf("mark comments read: %w", err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func nonNilComments(cs []*canvas.Comment) []*canvas.Comment {
	if cs == nil {
		return []*canvas.Comment{}
	}
	return cs
}
