package skerhttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/textcheck"
	"github.com/valyala/fasthttp"
)

// DefaultMaxFileSize is FilesConfig.MaxSize when zero (MAX_FILE_SIZE's
// default).
const DefaultMaxFileSize = 10 << 20

// multipartOverhead is how much a multipart upload may carry besides its
// file: the boundaries and the part's headers. The body of a multipart
// upload may be this much over MaxSize; its file may not.
const multipartOverhead = 64 << 10

// MaxFileNameLen caps an uploaded file's name, in characters.
const MaxFileNameLen = 255

// FilesConfig configures the file routes (ServeFiles).
type FilesConfig struct {
	// Store keeps the content (FILE_STORE).
	Store files.Store
	// MaxSize is the largest file in bytes (MAX_FILE_SIZE); zero means
	// DefaultMaxFileSize.
	MaxSize int64
	// Previews makes and keeps the images' previews; nil: no preview
	// route.
	Previews *files.Previews
	// CanvasQuota bounds the bytes of a canvas's files (FILE_QUOTA_CANVAS)
	// and UserQuota those a user uploaded to all canvases
	// (FILE_QUOTA_USER); zero: no bound.
	CanvasQuota, UserQuota int64
}

// fileRoutes serves a canvas's files: upload, list, download.
type fileRoutes struct {
	s        *Server
	store    files.Store
	max      int64
	previews *files.Previews
	quotas   [2]int64 // canvas, user; 0: none
	// uploading holds the header of each upload whose body is being read,
	// with when it arrived: fasthttp resets a request whose body it
	// refuses before its ErrorHandler runs, so the path is gone by then.
	// An entry goes when the body is read or refused, when its request
	// context serves another request, or, for a connection dropped
	// mid-body, once older than any body may take (sweep).
	uploading sync.Map // *fasthttp.RequestHeader → time.Time
	swept     atomic.Int64
}

// markUpload records that h is an upload whose body is being read.
func (fr *fileRoutes) markUpload(h *fasthttp.RequestHeader) {
	now := time.Now()
	fr.uploading.Store(h, now)
	last := fr.swept.Load()
	if now.UnixNano()-last < int64(time.Minute) || !fr.swept.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	stale := fr.s.cfg.BodyTimeout + time.Minute
	fr.uploading.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > stale {
			fr.uploading.Delete(k)
		}
		return true
	})
}

// ServeFiles adds the file routes under /api/v1/canvases/:id/files and
// bounds upload bodies by cfg.MaxSize instead of the API's body limit. Call
// it once, before Serve.
func (s *Server) ServeFiles(cfg FilesConfig) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxFileSize
	}
	fr := &fileRoutes{s: s, store: cfg.Store, max: cfg.MaxSize, previews: cfg.Previews, quotas: [2]int64{cfg.CanvasQuota, cfg.UserQuota}}
	s.files = fr
	fr.limitBodies()
	authed := s.RequireAuth()
	s.api.Get("/canvases/:id/files", authed, fr.list)
	s.api.Post("/canvases/:id/files", authed, fr.upload)
	s.api.Get("/canvases/:id/files/:fileId", authed, fr.serve)
	if fr.previews != nil {
		s.api.Get("/canvases/:id/files/:fileId/preview", authed, fr.preview)
	}
}

// isUpload reports whether a request is an upload, POST
// /api/v1/canvases/<id>/files, matched as Fiber routes it (any case, an
// optional trailing slash). capBody lets its body past the API's limit:
// limitBodies bounds it instead.
func isUpload(method, path string) bool {
	if method != fiber.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(path, "/")), "/api/v1/canvases/")
	if !ok {
		return false
	}
	id, tail, ok := strings.Cut(rest, "/")
	return ok && id != "" && tail == "files"
}

// limitBodies sets the body limit of each upload as its header arrives,
// so that fasthttp refuses a Content-Length over it before reading the
// body, and stops reading a chunked body once past it: MaxSize for a raw
// body, MaxSize plus multipartOverhead for a multipart form. Such a
// refusal is 413 file_too_large, and the connection is closed.
func (fr *fileRoutes) limitBodies() {
	srv := fr.s.app.Server()
	prevHeader := srv.HeaderReceived
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		var rc fasthttp.RequestConfig
		if prevHeader != nil {
			rc = prevHeader(h)
		}
		if !isUpload(string(h.Method()), requestPath(h)) {
			fr.uploading.Delete(h)
			return rc
		}
		fr.markUpload(h)
		rc.MaxRequestBodySize = int(min(fr.bodyLimit(h.ContentType()), int64(maxInt)))
		return rc
	}
	prevError := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		_, upload := fr.uploading.LoadAndDelete(&ctx.Request.Header)
		if !upload || !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			prevError(ctx, err)
			return
		}
		c := fr.s.app.AcquireCtx(ctx)
		defer fr.s.app.ReleaseCtx(c)
		if herr := fr.s.errorHandler(c, fr.tooLarge()); herr != nil {
			ctx.SetStatusCode(http.StatusInternalServerError)
		}
	}
}

const maxInt = int(^uint(0) >> 1)

// bodyLimit is the largest body of an upload with contentType.
func (fr *fileRoutes) bodyLimit(contentType []byte) int64 {
	if isMultipart(contentType) {
		return fr.max + multipartOverhead
	}
	return fr.max
}

func isMultipart(contentType []byte) bool {
	return bytes.HasPrefix(bytes.ToLower(bytes.TrimSpace(contentType)), []byte("multipart/form-data"))
}

// requestPath is the path of the request line, as Fiber's c.Path sees it.
func requestPath(h *fasthttp.RequestHeader) string {
	uri := h.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return string(uri)
}

func (fr *fileRoutes) tooLarge() *apierr.Error {
	return apierr.New(http.StatusRequestEntityTooLarge, apierr.CodeFileTooLarge,
		fmt.Sprintf("files may be at most %d bytes", fr.max))
}

// fileView is a file as the API shows it.
type fileView struct {
	ID        string    `json:"id"`
	Size      int64     `json:"size"`
	Type      string    `json:"type"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Name      string    `json:"name"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func viewFile(f store.File) fileView {
	return fileView{ID: f.ID, Size: f.Size, Type: f.Type, Width: f.Width, Height: f.Height, Name: f.Name,
		CreatedBy: f.CreatedBy, CreatedAt: f.CreatedAt.UTC()}
}

// list: GET /api/v1/canvases/:id/files → the canvas's files, newest
// first; any member may look.
func (fr *fileRoutes) list(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := fr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	fs, err := fr.s.st.CanvasFiles(c.UserContext(), id)
	if err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	out := make([]fileView, 0, len(fs))
	for _, f := range fs {
		out = append(out, viewFile(f))
	}
	return c.JSON(fiber.Map{"files": out})
}

// upload: POST /api/v1/canvases/:id/files → 201 with the file; owners and
// editors. The body is the file itself (its name in ?name=) or a
// multipart form with one file part named "file". Its type is sniffed
// from its bytes, whatever the request says.
func (fr *fileRoutes) upload(c *fiber.Ctx) error {
	fr.uploading.Delete(&c.Request().Header) // read in full
	id := c.Params("id")
	role, err := fr.s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	if !role.CanEdit() {
		return apierr.Forbidden("viewers cannot upload files")
	}
	p, err := principal(c)
	if err != nil {
		return err
	}
	open, name, err := fr.uploadBody(c)
	if err != nil {
		return err
	}
	body, err := open()
	if err != nil {
		return fmt.Errorf("upload: open form file: %w", err)
	}
	defer body.Close()
	if err := validName(name); err != nil {
		return err
	}
	if err := fr.checkQuota(c, id, p.UserID, 0); err != nil { // full already: not a byte read
		return err
	}
	info, err := fr.store.Put(c.UserContext(), body, fr.max)
	if errors.Is(err, files.ErrTooLarge) {
		return fr.tooLarge()
	}
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if _, err := fr.s.st.CanvasFile(c.UserContext(), id, info.ID); errors.Is(err, store.ErrNotFound) {
		if err := fr.checkQuota(c, id, p.UserID, info.Size); err != nil {
			return err
		}
	}
	f, err := fr.s.st.AddFile(c.UserContext(), store.File{
		CanvasID: id, ID: info.ID, Size: info.Size, Type: info.Type, Width: info.Width, Height: info.Height,
		Name: name, CreatedBy: p.UserID, CreatedAt: time.Now(),
	})
	if err != nil {
		return notFound(err, "canvas", "upload: record file")
	}
	if err := fr.keepContent(c, info.ID, open); err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(viewFile(f))
}

// keepContent puts the content of an upload again when it is gone now that
// its row is recorded: content held by no canvas when the upload found it
// stored may have been removed by the file sweep (package filesweep) in
// between.
func (fr *fileRoutes) keepContent(c *fiber.Ctx, id string, open func() (io.ReadCloser, error)) error {
	if _, err := fr.store.Stat(c.UserContext(), id); !errors.Is(err, files.ErrNotFound) {
		return nil
	}
	body, err := open()
	if err != nil {
		return fmt.Errorf("upload: open form file: %w", err)
	}
	defer body.Close()
	if _, err := fr.store.Put(c.UserContext(), body, fr.max); err != nil {
		return fmt.Errorf("upload: put again: %w", err)
	}
	return nil
}

// checkQuota refuses an upload of size more bytes that would take the
// canvas's files or the user's uploads past their quota (size 0: one that
// is at its quota already). Uploads that arrive at the same moment may
// pass a quota by one file each.
func (fr *fileRoutes) checkQuota(c *fiber.Ctx, canvasID, userID string, size int64) error {
	if fr.quotas == [2]int64{} {
		return nil
	}
	canvasUsed, userUsed, err := fr.s.st.FileUsage(c.UserContext(), canvasID, userID)
	if err != nil {
		return fmt.Errorf("upload: file usage: %w", err)
	}
	over := func(used, quota int64) bool { return quota > 0 && (used+size > quota || (size == 0 && used >= quota)) }
	this := ""
	if size > 0 {
		this = fmt.Sprintf("; this file has %d more", size)
	}
	switch {
	case over(canvasUsed, fr.quotas[0]):
		return apierr.New(http.StatusForbidden, apierr.CodeQuotaExceeded,
			fmt.Sprintf("the canvas's files take %d of its %d bytes (FILE_QUOTA_CANVAS)%s", canvasUsed, fr.quotas[0], this))
	case over(userUsed, fr.quotas[1]):
		return apierr.New(http.StatusForbidden, apierr.CodeQuotaExceeded,
			fmt.Sprintf("your uploads take %d of your %d bytes (FILE_QUOTA_USER)%s", userUsed, fr.quotas[1], this))
	}
	return nil
}

// uploadBody opens the uploaded file (each call of open from its start)
// and gives its name: the multipart form's file part (named as the part
// says, unless ?name= is given), or the raw body.
func (fr *fileRoutes) uploadBody(c *fiber.Ctx) (open func() (io.ReadCloser, error), name string, err error) {
	name = c.Query("name")
	if !isMultipart(c.Request().Header.ContentType()) {
		raw := c.Request().Body()
		if int64(len(raw)) > fr.max {
			return nil, "", fr.tooLarge()
		}
		if len(raw) == 0 {
			return nil, "", apierr.Invalid("file", "the request body is the file, and it is empty")
		}
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, name, nil
	}
	form, err := c.MultipartForm()
	if err != nil {
		return nil, "", apierr.BadRequest("malformed multipart form")
	}
	parts := form.File["file"]
	if len(parts) != 1 || len(form.File) != 1 {
		return nil, "", apierr.Invalid("file", "the form must have exactly one file part, named file")
	}
	part := parts[0]
	if part.Size > fr.max {
		return nil, "", fr.tooLarge()
	}
	if part.Size == 0 {
		return nil, "", apierr.Invalid("file", "the file is empty")
	}
	if _, ok := c.Queries()["name"]; !ok {
		name = part.Filename
	}
	return func() (io.ReadCloser, error) { return part.Open() }, name, nil
}

// validName checks a file's original name, which is metadata only (never
// a path): text as every field's (no NUL, valid UTF-8), no control
// characters, at most MaxFileNameLen characters. "" is no name.
func validName(name string) error {
	if p := textcheck.String(name); p != nil {
		return apierr.InvalidText("name", p.Message())
	}
	if n := utf8.RuneCountInString(name); n > MaxFileNameLen {
		return apierr.Invalid("name", fmt.Sprintf("must be at most %d characters", MaxFileNameLen))
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return apierr.Invalid("name", "must not contain control characters")
	}
	return nil
}

// fileCSP is the Content-Security-Policy of every file: nothing it holds
// may load, run or submit anything, even opened directly.
const fileCSP = "default-src 'none'; sandbox"

// serve: GET /api/v1/canvases/:id/files/:fileId → the file's bytes, for
// members of the canvas only. A file is immutable (its id is its hash),
// so its ETag is its id and it may be cached for good, privately. Only a
// decodable raster image is shown inline; anything else (SVG, HTML, PDF,
// …) is a download, sandboxed, so that uploaded content never runs in
// SKER's origin.
func (fr *fileRoutes) serve(c *fiber.Ctx) error {
	id, fileID := c.Params("id"), c.Params("fileId")
	if _, err := fr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	if !files.ValidID(fileID) {
		return apierr.NotFound("file")
	}
	f, err := fr.s.st.CanvasFile(c.UserContext(), id, fileID)
	if err != nil {
		return notFound(err, "file", "serve file")
	}
	content, info, err := fr.store.Open(c.UserContext(), fileID)
	if errors.Is(err, files.ErrNotFound) {
		Logger(c).ErrorContext(c.UserContext(), "file recorded without its content", "canvas_id", id, "file_id", fileID)
		return apierr.NotFound("file")
	}
	if err != nil {
		return fmt.Errorf("serve file: %w", err)
	}
	defer content.Close()

	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, fileCSP)
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	disposition := "attachment"
	if info.Raster() {
		disposition = "inline"
	}
	if named := mime.FormatMediaType(disposition, map[string]string{"filename": f.Name}); f.Name != "" && named != "" {
		disposition = named
	}
	c.Set(fiber.HeaderContentDisposition, disposition)
	// The bytes go out as stored: compressed, Range offsets and the ETag
	// would no longer name them.
	c.Request().Header.Del(fiber.HeaderAcceptEncoding)

	w := &fiberResponse{c: c, h: http.Header{}}
	w.h.Set("Content-Type", info.Type)
	w.h.Set("ETag", `"`+fileID+`"`)
	http.ServeContent(w, netRequest(c), "", time.Time{}, content)
	if w.status == http.StatusRequestedRangeNotSatisfiable {
		return apierr.New(w.status, apierr.CodeRangeNotSatisfiable, "the range is outside the file")
	}
	if w.status >= 400 {
		return apierr.New(w.status, apierr.CodeBadRequest, http.StatusText(w.status))
	}
	return nil
}

// preview: GET /api/v1/canvases/:id/files/:fileId/preview?width=N → the
// image downscaled to N pixels wide (files.PreviewWidths; default 256),
// its aspect ratio kept: a JPEG when opaque, a PNG when not, or the image
// itself when it is no wider. For members of the canvas only, like the
// file; immutable, so cached for good.
func (fr *fileRoutes) preview(c *fiber.Ctx) error {
	id, fileID := c.Params("id"), c.Params("fileId")
	if _, err := fr.s.CanvasAccess(c, id); err != nil {
		return err
	}
	if !files.ValidID(fileID) {
		return apierr.NotFound("file")
	}
	width := 256
	if v := c.Query("width"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(files.PreviewWidths, n) {
			return apierr.Invalid("width", fmt.Sprintf("must be one of %v", files.PreviewWidths))
		}
		width = n
	}
	f, err := fr.s.st.CanvasFile(c.UserContext(), id, fileID)
	if err != nil {
		return notFound(err, "file", "preview file")
	}
	etag := `"` + fileID + "-" + strconv.Itoa(width) + `"`
	if match := c.Get(fiber.HeaderIfNoneMatch); match == etag || match == "*" {
		return c.SendStatus(http.StatusNotModified)
	}
	pv, err := fr.previews.Get(c.UserContext(), fr.store, fileID, f.Type, width)
	if errors.Is(err, files.ErrNoPreview) {
		return apierr.New(http.StatusNotFound, apierr.CodeNotFound,
			fmt.Sprintf("preview not found: the file is not a PNG, JPEG, GIF or WebP picture of at most %d pixels", files.MaxPreviewPixels))
	}
	if errors.Is(err, files.ErrNotFound) {
		Logger(c).ErrorContext(c.UserContext(), "file recorded without its content", "canvas_id", id, "file_id", fileID)
		return apierr.NotFound("file")
	}
	if err != nil {
		return fmt.Errorf("preview file: %w", err)
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, fileCSP)
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Set(fiber.HeaderContentDisposition, "inline")
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderContentType, pv.Type)
	c.Request().Header.Del(fiber.HeaderAcceptEncoding) // compressed already
	return c.Send(pv.Data)
}

// netRequest is the part of the request http.ServeContent reads: its
// method and header (Range, If-Range, If-None-Match, …).
func netRequest(c *fiber.Ctx) *http.Request {
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) { h.Add(string(k), string(v)) })
	return &http.Request{Method: c.Method(), Header: h}
}

// fiberResponse is an http.ResponseWriter onto a Fiber response, for
// http.ServeContent. Its header goes out when the status is written; an
// error status's body is dropped for the JSON error shape.
type fiberResponse struct {
	c      *fiber.Ctx
	h      http.Header
	status int
}

func (w *fiberResponse) Header() http.Header { return w.h }

func (w *fiberResponse) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code >= 400 {
		if cr := w.h.Get("Content-Range"); cr != "" {
			w.c.Set(fiber.HeaderContentRange, cr)
		}
		return
	}
	for k, vs := range w.h {
		switch {
		case len(vs) == 0:
		case k == "Content-Length":
			// fasthttp counts the body itself; a HEAD answer has none.
			if n, err := strconv.Atoi(vs[0]); err == nil && w.c.Method() == fiber.MethodHead {
				w.c.Response().Header.SetContentLength(n)
			}
		default:
			w.c.Set(k, vs[0])
		}
	}
	w.c.Status(code)
}

func (w *fiberResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 {
		return len(p), nil
	}
	return w.c.Write(p)
}
