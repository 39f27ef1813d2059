package skerhttp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/versions"
)

// MaxVersionNameLen is the longest name of a named version, in characters.
const MaxVersionNameLen = 200

// keepBase keeps a new canvas as created, its history's first point; a
// failure is logged (the canvas's seqs before any later point then
// rebuild with its current title).
func (s *Server) keepBase(ctx context.Context, cv store.Canvas) {
	if s.versions == nil {
		return
	}
	if err := s.versions.KeepBase(ctx, cv); err != nil {
		s.log.WarnContext(ctx, "the canvas as created is not kept in its history", "canvas_id", cv.ID, "err", err)
	}
}

// versionRoutes answers the history routes (docs/history.md).
type versionRoutes struct {
	s   *Server
	svc *versions.Service
}

// ServeVersions adds the history routes: the timeline, a canvas at any
// seq, the diff between two seqs, naming the current version and
// restoring an earlier one. Any member may read; owners and editors may
// name and restore.
func (s *Server) ServeVersions(svc *versions.Service) {
	s.versions = svc
	vr := &versionRoutes{s: s, svc: svc}
	authed := s.RequireAuth()
	s.api.Get("/canvases/:id/versions", authed, vr.list)
	s.api.Post("/canvases/:id/versions", authed, vr.name)
	s.api.Get("/canvases/:id/versions/diff", authed, vr.diff)
	s.api.Get("/canvases/:id/versions/:seq", authed, vr.at)
	s.api.Post("/canvases/:id/restore", authed, vr.restore)
}

// list: GET /api/v1/canvases/:id/versions → {versions: [{seq, at, kind,
// name?, by?, authors}]}, oldest first; any member.
func (vr *versionRoutes) list(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := vr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	tl, err := vr.svc.Timeline(c.UserContext(), id)
	if err != nil {
		return versionError(err)
	}
	return c.JSON(fiber.Map{"versions": tl})
}

// name: POST /api/v1/canvases/:id/versions {name} → 201 {seq}: keeps the
// canvas as it is now under name; owners and editors.
func (vr *versionRoutes) name(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := vr.s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	if !role.CanEdit() {
		return apierr.Forbidden("viewers cannot name a version")
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxVersionNameLen {
		return apierr.Invalid("name", "want 1 to 200 characters")
	}
	p, _ := PrincipalFrom(c)
	seq, err := vr.svc.Keep(c.UserContext(), id, store.VersionNamed, name, p.UserID)
	if err != nil {
		return versionError(err)
	}
	return c.Status(http.StatusCreated).JSON(seqResponse{Seq: seq})
}

// at: GET /api/v1/canvases/:id/versions/:seq → the canvas as it was at
// seq, in the export form; any member.
func (vr *versionRoutes) at(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := vr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	seq, err := seqParam("seq", c.Params("seq"))
	if err != nil {
		return err
	}
	st, err := vr.svc.At(c.UserContext(), id, seq)
	if err != nil {
		return versionError(err)
	}
	return c.JSON(st.Export())
}

// diff: GET /api/v1/canvases/:id/versions/diff?from=A&to=B → what changed
// from A to B; any member.
func (vr *versionRoutes) diff(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := vr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	from, err := seqParam("from", c.Query("from"))
	if err != nil {
		return err
	}
	to, err := seqParam("to", c.Query("to"))
	if err != nil {
		return err
	}
	d, err := vr.svc.DiffSeqs(c.UserContext(), id, from, to)
	if err != nil {
		later := "to" // a seq past the current one is the later of the two
		if from > to {
			later = "from"
		}
		return versionErrorFor(err, later)
	}
	return c.JSON(d)
}

// restore: POST /api/v1/canvases/:id/restore {seq} → {seq}: commits the
// difference from now to seq as one ordinary batch; owners and editors.
func (vr *versionRoutes) restore(c *fiber.Ctx) error {
	id := c.Params("id")
	role, err := vr.s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	if !role.CanEdit() {
		return apierr.Forbidden("viewers cannot restore a version")
	}
	var req struct {
		Seq *uint64 `json:"seq"`
	}
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Seq == nil {
		return apierr.Invalid("seq", "is required")
	}
	p, _ := PrincipalFrom(c)
	seq, err := vr.svc.Restore(c.UserContext(), id, p.UserID, *req.Seq)
	if err != nil {
		return versionError(err)
	}
	return c.JSON(seqResponse{Seq: seq})
}

func seqParam(field, raw string) (uint64, error) {
	seq, err := strconv.ParseUint(raw, 10, 63)
	if err != nil {
		return 0, apierr.Invalid(field, "want a seq: a whole number from 0")
	}
	return seq, nil
}

// versionError maps the history's errors: a seq past the canvas's is
// invalid, one that can no longer be rebuilt is gone (410
// history_trimmed, saying why); others as for any canvas call.
func versionError(err error) error { return versionErrorFor(err, "seq") }

// versionErrorFor is versionError naming field for a seq after the
// canvas's current one.
func versionErrorFor(err error, field string) error {
	switch {
	case errors.Is(err, versions.ErrFutureSeq):
		return apierr.Invalid(field, err.Error())
	case errors.Is(err, versions.ErrNotRebuildable):
		return apierr.New(http.StatusGone, apierr.CodeHistoryTrimmed, err.Error())
	}
	return canvasError(err)
}
