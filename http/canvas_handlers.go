package skerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/textcheck"
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
	out := make([]listedCanvasView, 0, len(entries))
	ids := make([]string, len(entries))
	for i, e := range entries {
		out = append(out, listedCanvasView{canvasView: viewCanvas(e.Canvas, e.Role), Present: []presentView{}})
		ids[i] = e.Canvas.ID
	}
	unread, err := s.st.UnreadMentions(c.UserContext(), p.UserID)
	if err != nil {
		return fmt.Errorf("list canvases: unread mentions: %w", err)
	}
	for i := range out {
		out[i].UnreadMentions = unread[out[i].ID]
	}
	if s.cfg.Presence != nil {
		here := s.present(c.UserContext(), ids)
		for i := range out {
			if p := here[out[i].ID]; p != nil {
				out[i].Present = p
			}
		}
	}
	return c.JSON(fiber.Map{"canvases": out})
}

// present is who is on each of canvasIDs, one entry per person with the
// number of their connections, by name. A directory that answers only in
// part (Redis down: this node's connections) is logged and used.
func (s *Server) present(ctx context.Context, canvasIDs []string) map[string][]presentView {
	ctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	here, err := s.cfg.Presence.Here(ctx, canvasIDs)
	if err != nil {
		s.log.WarnContext(ctx, "canvas list: who is here, in part", "err", err)
	}
	names := map[string]string{}
	out := make(map[string][]presentView, len(here))
	for id, es := range here {
		var views []presentView
		for _, e := range es { // sorted by user
			if n := len(views); n > 0 && views[n-1].UserID == e.User {
				views[n-1].Connections++
				continue
			}
			name, ok := names[e.User]
			if !ok {
				if u, err := s.st.UserByID(ctx, e.User); err == nil {
					name = u.Name
				}
				names[e.User] = name
			}
			views = append(views, presentView{UserID: e.User, Name: name, Connections: 1})
		}
		out[id] = views
	}
	return out
}

// presenceTimeout bounds the presence part of GET /api/v1/canvases.
const presenceTimeout = 2 * time.Second

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
	now := time.Now().UTC().Truncate(time.Microsecond) // what the stores keep
	cv := store.Canvas{ID: id, Title: title, Settings: settings, CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateCanvas(c.UserContext(), cv, p.UserID); err != nil {
		return fmt.Errorf("create canvas: %w", err)
	}
	s.keepBase(c.UserContext(), cv)
	return c.Status(http.StatusCreated).JSON(viewCanvas(cv, store.RoleOwner))
}

// getCanvas: GET /api/v1/canvases/:id → metadata, the caller's role and
// the committed content (seq, nodes, edges, comments); any member. Title and settings
// come from the snapshot, which is ahead of the store's copy.
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
	ex, err := s.cvs.Snapshot(c.UserContext(), id)
	if err != nil {
		return canvasError(err)
	}
	cv.Title, cv.Settings = ex.Title, snapshotSettings(ex)
	return c.JSON(snapshotView{canvasView: viewCanvas(cv, role), Seq: ex.Seq, Nodes: ex.Nodes, Edges: ex.Edges, Comments: nonNilComments(ex.Comments)})
}

// updateCanvas: PATCH /api/v1/canvases/:id {title?, settings?} → 200 with
// the metadata and the seq of the change; owners and editors only. The
// change is a canvas.update op through the canvas actor. Settings are
// replaced as a whole: keys of the current settings that the request lacks
// are removed (computed against the snapshot read just before, so a key
// that another client adds in between survives).
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
	var title *string
	if req.Title != nil {
		t, err := validTitle(*req.Title)
		if err != nil {
			return err
		}
		title = &t
	}
	var settings map[string]json.RawMessage
	if req.Settings != nil {
		raw, err := validSettings(req.Settings)
		if err != nil {
			return err
		}
		_ = json.Unmarshal(raw, &settings) // validSettings checked it is an object
	}
	ctx := c.UserContext()
	cv, err := s.st.Canvas(ctx, id)
	if err != nil {
		return notFound(err, "canvas", "get canvas")
	}
	ex, err := s.cvs.Snapshot(ctx, id)
	if err != nil {
		return canvasError(err)
	}
	cv.Title, cv.Settings = ex.Title, snapshotSettings(ex)
	op, changed := metaUpdate(ex, title, settings)
	if !changed {
		return c.JSON(stateView{canvasView: viewCanvas(cv, role), Seq: ex.Seq})
	}
	p, _ := PrincipalFrom(c)
	seq, err := s.cvs.Submit(ctx, id, p.UserID, "", []canvas.Op{op})
	if err != nil {
		return canvasError(err)
	}
	if title != nil {
		cv.Title = *title
	}
	if settings != nil {
		cv.Settings = appliedSettings(settings)
	}
	cv.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	return c.JSON(stateView{canvasView: viewCanvas(cv, role), Seq: seq})
}

// metaUpdate is the canvas.update op that gives the canvas in ex the title
// (unless nil) and the settings (unless nil; they replace the current ones,
// so the keys they lack are set to null, which removes them). Values that
// would not change are left out; changed is false when nothing is left.
func metaUpdate(ex canvas.Export, title *string, settings map[string]json.RawMessage) (op canvas.Op, changed bool) {
	op = canvas.Op{Op: canvas.OpCanvasUpdate}
	if title != nil && *title != ex.Title {
		op.Title = title
	}
	if settings != nil {
		diff := map[string]json.RawMessage{}
		for k, v := range settings {
			cur, ok := ex.Settings[k]
			switch {
			case string(v) == "null" && ok:
				diff[k] = v
			case string(v) != "null" && (!ok || !sameJSON(cur, v)):
				diff[k] = v
			}
		}
		for k := range ex.Settings {
			if _, ok := settings[k]; !ok {
				diff[k] = json.RawMessage("null")
			}
		}
		if len(diff) > 0 {
			op.Settings = diff
		}
	}
	return op, op.Title != nil || op.Settings != nil
}

// sameJSON reports whether a committed value equals a compact request
// value, in the form the canvas commits it (json.Marshal's escaping).
func sameJSON(committed, v json.RawMessage) bool {
	enc, err := json.Marshal(v)
	return err == nil && string(enc) == string(committed)
}

// appliedSettings is the settings object that settings leave when they
// replace a canvas's settings: the keys not set to null, encoded as a
// snapshot encodes them.
func appliedSettings(settings map[string]json.RawMessage) json.RawMessage {
	kept := make(map[string]json.RawMessage, len(settings))
	for k, v := range settings {
		if string(v) != "null" {
			kept[k] = v
		}
	}
	return snapshotSettings(canvas.Export{Settings: kept})
}

// deleteCanvas: DELETE /api/v1/canvases/:id → 204; owners only. The store
// row goes first, so that no new activation can load the canvas; then
// Forget stops its actor and removes its journal. A failed Forget is
// logged, not reported: the canvas is gone, and its journal subject is
// unreachable without the row.
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
	log := Logger(c)
	s.memberChanged(id, "")
	s.memberEvent(c, id, "", memberCanvasDeleted, "")
	if err := s.cvs.Forget(c.UserContext(), id); err != nil {
		log.Error("canvas deleted but its actor or journal remains", "canvas_id", id, "err", err)
	}
	log.Info("canvas deleted", "canvas_id", id)
	return c.SendStatus(http.StatusNoContent)
}

// validTitle checks a title from a body (which DecodeJSON checked for
// refused text already) or from the import's ?title= query parameter
// (which nothing else checks).
func validTitle(t string) (string, error) {
	if p := textcheck.String(t); p != nil {
		return "", apierr.InvalidText("title", p.Message())
	}
	t = strings.TrimSpace(t)
	switch {
	case t == "":
		return "", apierr.Invalid("title", "is required")
	case utf8.RuneCountInString(t) > MaxTitleLen:
		return "", apierr.Invalid("title", "must be at most 200 characters")
	}
	return t, nil
}

// validSettings checks that raw is a JSON object of at most MaxSettingsLen
// bytes once compacted, with keys of 1 to canvas.MaxKeyLen bytes, and
// returns it compacted.
func validSettings(raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, apierr.Invalid("settings", "must be a JSON object")
	}
	if buf.Len() > MaxSettingsLen {
		return nil, apierr.Invalid("settings", "must be at most 16 KiB")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
		return nil, apierr.Invalid("settings", "must be a JSON object")
	}
	for k := range obj {
		if k == "" || len(k) > canvas.MaxKeyLen {
			return nil, apierr.Invalid("settings", "keys must be 1 to 100 bytes")
		}
	}
	// -0 is held as 0 everywhere a canvas keeps a number, so that the
	// canvas list shows what the snapshot shows.
	return canvas.PositiveZeros(json.RawMessage(buf.Bytes())), nil
}
