package skerhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
)

// Limits on canvas metadata.
const (
	MaxTitleLen    = 200      // characters, after trimming
	MaxSettingsLen = 16 << 10 // bytes of compact JSON
)

// listCanvases: GET /api/v1/canvases → the caller's canvases with roles.
func (s *Server) listCanvases(c *fiber.Ctx) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	entries, err := s.st.ListCanvases(c.UserContext(), p.UserID)
	if err != nil {
		return fmt.Errorf("list canvases: %w", err)
	}
	out := make([]canvasView, 0, len(entries))
	for _, e := range entries {
		out = append(out, viewCanvas(e.Canvas, e.Role))
	}
	return c.JSON(fiber.Map{"canvases": out})
}

type canvasRequest struct {
	Title    *string         `json:"title"`
	Settings json.RawMessage `json:"settings"`
}

// createCanvas: POST /api/v1/canvases {title, settings?} → 201; the caller
// becomes its owner.
func (s *Server) createCanvas(c *fiber.Ctx) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	var req canvasRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Title == nil {
		return apierr.Invalid("title", "is required")
	}
	title, err := validTitle(*req.Title)
	if err != nil {
		return err
	}
	settings := json.RawMessage("{}")
	if req.Settings != nil {
		if settings, err = validSettings(req.Settings); err != nil {
			return err
		}
	}
	id, err := newID()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	cv := store.Canvas{ID: id, Title: title, Settings: settings, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateCanvas(c.UserContext(), cv, p.UserID); err != nil {
		return fmt.Errorf("create canvas: %w", err)
	}
	return c.Status(http.StatusCreated).JSON(viewCanvas(cv, store.RoleOwner))
}

// getCanvas: GET /api/v1/canvases/:id → metadata, the caller's role and,
// with Deps.CanvasContent, the live content.
func (s *Server) getCanvas(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	cv, err := s.st.Canvas(c.UserContext(), id)
	if err != nil {
		return notFound(err, "canvas", "get canvas")
	}
	view := viewCanvas(cv, role)
	if s.deps.CanvasContent == nil {
		return c.JSON(view)
	}
	extra, err := s.deps.CanvasContent(c.UserContext(), id)
	if err != nil {
		return fmt.Errorf("canvas content: %w", err)
	}
	return c.JSON(mergeFields(view, extra))
}

// mergeFields is v's JSON fields plus extra's (v's win on a clash).
func mergeFields(v canvasView, extra map[string]any) map[string]any {
	out := make(map[string]any, len(extra)+7)
	for k, x := range extra {
		out[k] = x
	}
	out["id"], out["title"], out["settings"], out["role"] = v.ID, v.Title, v.Settings, v.Role
	out["created_by"], out["created_at"], out["updated_at"] = v.CreatedBy, v.CreatedAt, v.UpdatedAt
	return out
}

// updateCanvas: PATCH /api/v1/canvases/:id {title?, settings?} → 200;
// owners and editors only.
func (s *Server) updateCanvas(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	if !role.CanEdit() {
		return apierr.Forbidden("viewers cannot change a canvas")
	}
	var req canvasRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Title == nil && req.Settings == nil {
		return apierr.BadRequest("nothing to change: give title or settings")
	}
	cv, err := s.st.Canvas(c.UserContext(), id)
	if err != nil {
		return notFound(err, "canvas", "get canvas")
	}
	if req.Title != nil {
		if cv.Title, err = validTitle(*req.Title); err != nil {
			return err
		}
	}
	if req.Settings != nil {
		if cv.Settings, err = validSettings(req.Settings); err != nil {
			return err
		}
	}
	cv.UpdatedAt = time.Now().UTC()
	if err := s.st.UpdateCanvasMeta(c.UserContext(), id, cv.Title, cv.Settings, cv.UpdatedAt); err != nil {
		return notFound(err, "canvas", "update canvas")
	}
	return c.JSON(viewCanvas(cv, role))
}

// deleteCanvas: DELETE /api/v1/canvases/:id → 204; owners only.
func (s *Server) deleteCanvas(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	if !role.CanManage() {
		return apierr.Forbidden("only an owner can delete a canvas")
	}
	if err := s.st.DeleteCanvas(c.UserContext(), id); err != nil {
		return notFound(err, "canvas", "delete canvas")
	}
	Logger(c).Info("canvas deleted", "canvas_id", id)
	return c.SendStatus(http.StatusNoContent)
}

func validTitle(t string) (string, error) {
	t = strings.TrimSpace(t)
	switch {
	case t == "":
		return "", apierr.Invalid("title", "is required")
	case !utf8.ValidString(t):
		return "", apierr.Invalid("title", "must be valid UTF-8")
	case utf8.RuneCountInString(t) > MaxTitleLen:
		return "", apierr.Invalid("title", "must be at most 200 characters")
	}
	return t, nil
}

// validSettings checks that raw is a JSON object of at most MaxSettingsLen
// bytes once compacted, and returns it compacted.
func validSettings(raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, apierr.Invalid("settings", "must be a JSON object")
	}
	if buf.Len() > MaxSettingsLen {
		return nil, apierr.Invalid("settings", "must be at most 16 KiB")
	}
	return json.RawMessage(buf.Bytes()), nil
}
