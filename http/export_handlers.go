package skerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
)

// importPath is the import route under /api/v1; it alone may use the whole
// Config.BodyLimit.
const importPath = "/canvases/import"

// importCleanupTimeout bounds removing a canvas whose import failed.
const importCleanupTimeout = 30 * time.Second

// exportCanvas: GET /api/v1/canvases/:id/export → the canvas as a
// canvas.Export, as a download; any member.
func (s *Server) exportCanvas(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.CanvasAccess(c, id); err != nil {
		return err
	}
	ex, err := s.cvs.Snapshot(c.UserContext(), id)
	if err != nil {
		return canvasError(err)
	}
	if c.Query("files") == "1" {
		return s.exportBundle(c, ex)
	}
	c.Set(fiber.HeaderContentDisposition, exportDisposition(ex.Title))
	return c.JSON(ex)
}

// importCanvas: POST /api/v1/canvases/import?title= with a canvas.Export
// (read as a canvas.ImportFile, so left-out geometry takes node.add's
// defaults) as the body → 201 with the new canvas's metadata and seq. The caller
// owns the new canvas. Its content goes through the canvas actor as
// node.add and edge.add batches (and a canvas.update for the settings), so
// it is validated and journaled like any change. When a batch is rejected
// the new canvas is deleted again and the rejection returned.
func (s *Server) importCanvas(c *fiber.Ctx) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	var ex canvas.ImportFile
	var b bundle
	if body := c.Body(); isZip(body) {
		if b, err = s.decodeImportBundle(body); err != nil {
			return err
		}
		if err := decodeJSONBytes(b.JSON, &ex); err != nil {
			return err
		}
	} else if err := DecodeJSON(c, &ex); err != nil {
		return err
	}
	if ex.Version != canvas.ExportVersion {
		return apierr.Invalid("version", fmt.Sprintf("must be %d", canvas.ExportVersion))
	}
	if err := checkExportItems(ex); err != nil {
		return err
	}
	title, err := importTitle(c, ex.Title)
	if err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := time.Now().UTC().Truncate(time.Microsecond)
	cv := store.Canvas{ID: id, Title: title, Settings: json.RawMessage("{}"), CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateCanvas(ctx, cv, p.UserID); err != nil {
		return fmt.Errorf("import canvas: %w", err)
	}
	s.keepBase(ctx, cv)
	if err := s.importBundleFiles(c, id, p.UserID, b, ex); err != nil {
		s.discardImport(c, id, err)
		return err
	}
	seq, err := s.importContent(ctx, id, p.UserID, ex)
	if err != nil {
		s.discardImport(c, id, err)
		return err
	}
	if len(ex.Settings) > 0 {
		cv.Settings = appliedSettings(ex.Settings)
	}
	Logger(c).Info("canvas imported", "canvas_id", id, "nodes", len(ex.Nodes), "edges", len(ex.Edges), "files", len(b.Files), "seq", seq)
	c.Location("/api/v1/canvases/" + id)
	return c.Status(http.StatusCreated).JSON(stateView{canvasView: viewCanvas(cv, store.RoleOwner), Seq: seq})
}

// checkExportItems rejects null entries in nodes and edges, which decode
// without error.
func checkExportItems(ex canvas.ImportFile) error {
	for i, n := range ex.Nodes {
		if n == nil {
			return apierr.Invalid("nodes", fmt.Sprintf("node %d is null", i))
		}
	}
	for i, e := range ex.Edges {
		if e == nil {
			return apierr.Invalid("edges", fmt.Sprintf("edge %d is null", i))
		}
	}
	return nil
}

// importTitle is the ?title= override when given, else the export's title,
// else "Imported canvas".
func importTitle(c *fiber.Ctx, exported string) (string, error) {
	if c.Context().QueryArgs().Has("title") {
		return validTitle(c.Query("title"))
	}
	if strings.TrimSpace(exported) == "" {
		return "Imported canvas", nil
	}
	return validTitle(exported)
}

// importContent submits the export's settings and content to the new
// canvas id and returns the seq of the last batch (0 for an empty export).
// Errors are ready for the client.
func (s *Server) importContent(ctx context.Context, id, author string, ex canvas.ImportFile) (uint64, error) {
	var seq uint64
	if len(ex.Settings) > 0 {
		var err error
		op := canvas.Op{Op: canvas.OpCanvasUpdate, Settings: ex.Settings}
		if seq, err = s.cvs.Submit(ctx, id, author, "", []canvas.Op{op}); err != nil {
			var opErr *canvas.OpError
			if errors.As(err, &opErr) {
				e := opErr.API()
				e.Message = "import: " + opErr.Message // it names the setting
				return 0, e
			}
			return 0, importFailed(err)
		}
	}
	first := 0
	for _, batch := range ex.Ops(canvas.Limits{}) {
		n, err := s.submitImport(ctx, id, author, batch, first, &ex)
		if err != nil {
			return 0, err
		}
		seq, first = n, first+len(batch)
	}
	return seq, nil
}

// submitImport submits ops, halving a batch rejected as too large (the
// journal caps a batch's bytes, which its op count does not show). first is
// the position of ops[0] among the import's ops, for error messages.
func (s *Server) submitImport(ctx context.Context, id, author string, ops []canvas.Op, first int, ex *canvas.ImportFile) (uint64, error) {
	seq, err := s.cvs.Submit(ctx, id, author, "", ops)
	var opErr *canvas.OpError
	switch {
	case err == nil:
		return seq, nil
	case !errors.As(err, &opErr):
		return 0, importFailed(err)
	case opErr.Code == apierr.CodeBatchTooLarge && opErr.Index < 0 && len(ops) > 1:
		half := len(ops) / 2
		if _, err := s.submitImport(ctx, id, author, ops[:half], first, ex); err != nil {
			return 0, err
		}
		return s.submitImport(ctx, id, author, ops[half:], first+half, ex)
	case opErr.Index < 0:
		e := opErr.API()
		e.Message = "import: " + opErr.Message
		return 0, e
	}
	e := opErr.API()
	at := first + opErr.Index // ImportOps lists the nodes, then the edges
	if at < len(ex.Nodes) {
		e.Message = fmt.Sprintf("import: nodes[%d] (id %q): %s", at, ex.Nodes[at].ID, opErr.Message)
	} else {
		at -= len(ex.Nodes)
		e.Message = fmt.Sprintf("import: edges[%d] (id %q): %s", at, ex.Edges[at].ID, opErr.Message)
	}
	return 0, e
}

// importFailed maps a failure other than a rejection. The new canvas is
// deleted afterwards, so even an unknown outcome leaves nothing: the client
// may retry the whole import.
func importFailed(err error) error {
	ce := canvasError(err)
	var ae *apierr.Error
	if errors.As(ce, &ae) && ae.Status == http.StatusServiceUnavailable {
		return apierr.New(http.StatusServiceUnavailable, apierr.CodeUnavailable,
			"the import could not be completed and was discarded; retry shortly")
	}
	return ce
}

// discardImport deletes the canvas of a failed import: the store row, then
// its actor and journal. It runs to the end even when the client has gone.
func (s *Server) discardImport(c *fiber.Ctx, id string, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), importCleanupTimeout)
	defer cancel()
	log := Logger(c).With("canvas_id", id)
	if err := s.st.DeleteCanvas(ctx, id); err != nil {
		log.Error("import failed and its canvas could not be deleted", "err", err, "cause", cause)
		return
	}
	if err := s.cvs.Forget(ctx, id); err != nil {
		log.Error("import failed; canvas deleted but its actor or journal remains", "err", err)
	}
	log.Info("import rejected; canvas discarded", "cause", cause)
}

// exportDisposition is the Content-Disposition of an export: an ASCII file
// name from the title and, when the title has other letters, an RFC 5987
// UTF-8 one too.
func exportDisposition(title string) string {
	ascii := fileName(title, func(r rune) bool { return r < unicode.MaxASCII && isNameRune(r) })
	v := `attachment; filename="` + ascii + `.sker.json"`
	if uni := fileName(title, isNameRune); uni != ascii {
		v += `; filename*=UTF-8''` + url.PathEscape(uni+".sker.json")
	}
	return v
}

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' || r == '.'
}

// maxFileNameRunes bounds the title part of an export's file name.
const maxFileNameRunes = 100

// fileName keeps the runes of title that keep accepts, replaces each run of
// others with one "_", trims separators from the ends, and falls back to
// "canvas" when nothing is left.
func fileName(title string, keep func(rune) bool) string {
	var b strings.Builder
	n, replaced := 0, false
	for _, r := range title {
		if n == maxFileNameRunes {
			break
		}
		switch {
		case keep(r):
			b.WriteRune(r)
			replaced = false
		case replaced:
			continue
		default:
			b.WriteByte('_')
			replaced = true
		}
		n++
	}
	if name := strings.Trim(b.String(), " ._-"); name != "" {
		return name
	}
	return "canvas"
}
