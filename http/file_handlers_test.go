package skerhttp_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/files"
	skerhttp "github.com/skerhq/sker/http"
)

// fileLimit is MAX_FILE_SIZE in these tests: small, so that bodies around
// it are quick to send.
const fileLimit = 64 << 10

type fileHarness struct {
	*harness
	root  string // the FS store's folder
	owner sessionBody
	cv    canvasBody
}

func newFileHarness(t *testing.T) *fileHarness {
	h := &fileHarness{harness: newHarness(t), root: t.TempDir()}
	st, err := files.NewFS(h.root)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := files.NewPreviews(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.srv.ServeFiles(skerhttp.FilesConfig{Store: st, MaxSize: fileLimit, Previews: pv})
	h.owner = h.user("owner@example.com")
	h.cv = h.canvas(h.owner.AccessToken, "Files")
	return h
}

type fileJSON struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Name   string `json:"name"`
}

// upload sends body raw (name in ?name=) as token to the canvas.
func (h *fileHarness) upload(canvasID, token string, body []byte, name string) response {
	h.t.Helper()
	path := "/api/v1/canvases/" + canvasID + "/files"
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	return h.send(http.MethodPost, path, token, bytes.NewReader(body), "application/octet-stream", nil)
}

// uploadForm sends body as the "file" part of a multipart form.
func (h *fileHarness) uploadForm(canvasID, token string, body []byte, filename string) response {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", filename)
	if err != nil {
		h.t.Fatal(err)
	}
	part.Write(body)
	mw.Close()
	return h.send(http.MethodPost, "/api/v1/canvases/"+canvasID+"/files", token, &buf, mw.FormDataContentType(), nil)
}

func (h *fileHarness) send(method, path, token string, body io.Reader, ctype string, header map[string]string) response {
	h.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.App().Test(req, 10_000)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (h *fileHarness) fileGet(canvasID, fileID, token string, header map[string]string) response {
	h.t.Helper()
	return h.send(http.MethodGet, "/api/v1/canvases/"+canvasID+"/files/"+fileID, token, nil, "", header)
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storedFiles lists the content files under the FS store's folder.
func (h *fileHarness) storedFiles() []string {
	var out []string
	filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(h.root, p)
			out = append(out, rel)
		}
		return err
	})
	return out
}

// TestUploadSizeLimit: a file just under and at MAX_FILE_SIZE is stored,
// raw or in a form; one byte over is 413 file_too_large, and nothing is
// stored. Other routes keep the API's body limit.
func TestUploadSizeLimit(t *testing.T) {
	h := newFileHarness(t)
	tok := h.owner.AccessToken
	for _, n := range []int{fileLimit - 1, fileLimit} {
		body := bytes.Repeat([]byte{'a'}, n)
		var f fileJSON
		h.upload(h.cv.ID, tok, body, "").decode(t, http.StatusCreated, &f)
		if f.Size != int64(n) || f.ID != sha(body) {
			t.Fatalf("raw upload of %d bytes: got %+v; want size %d, id %s", n, f, n, sha(body))
		}
		form := bytes.Repeat([]byte{'b'}, n)
		h.uploadForm(h.cv.ID, tok, form, "b.txt").decode(t, http.StatusCreated, &f)
		if f.Size != int64(n) || f.Name != "b.txt" {
			t.Fatalf("form upload of %d bytes: got %+v", n, f)
		}
	}
	before := len(h.storedFiles())
	// A form one byte over: its body is within the form's allowance, its
	// file is not.
	h.uploadForm(h.cv.ID, tok, bytes.Repeat([]byte{'d'}, fileLimit+1), "d.txt").wantError(t, http.StatusRequestEntityTooLarge, "file_too_large", "")

	base := h.serve()
	head := "POST /api/v1/canvases/" + h.cv.ID + "/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n"
	resp, raw := rawExchange(t, base, head+fmt.Sprintf("Content-Length: %d\r\n\r\n", fileLimit+1), nil)
	wantCode(t, "raw body one byte over, by its Content-Length", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	if after := len(h.storedFiles()); after != before {
		t.Fatalf("stored files: %d before the refused uploads, %d after; want no change", before, after)
	}
	resp, raw = rawExchange(t, base, "POST /api/v1/canvases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+tok+
		fmt.Sprintf("\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 2<<20), func(w io.Writer) {
		w.Write(bytes.Repeat([]byte{' '}, 2<<20))
	})
	wantCode(t, "2 MiB to another route", resp, raw, http.StatusRequestEntityTooLarge, "payload_too_large")
}

// rawExchange dials the server, writes head, then runs body (if any) in
// the background, and returns the first response read.
func rawExchange(t *testing.T, base, head string, body func(w io.Writer)) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		go body(conn)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, raw
}

func wantCode(t *testing.T, what string, resp *http.Response, raw []byte, status int, code string) {
	t.Helper()
	var e apiError
	json.Unmarshal(raw, &e)
	if resp.StatusCode != status || e.Error.Code != code {
		t.Fatalf("%s: got %d %s; want %d %s", what, resp.StatusCode, raw, status, code)
	}
}

// TestUploadRefusedBeforeTheBody: a Content-Length over the limit is
// answered 413 file_too_large before any of the body is sent; a chunked
// body is refused at the chunk that takes it past the limit, and the
// connection is closed, so no more of it is read.
func TestUploadRefusedBeforeTheBody(t *testing.T) {
	h := newFileHarness(t)
	base := h.serve()
	path := "/api/v1/canvases/" + h.cv.ID + "/files"
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.owner.AccessToken + "\r\n"

	resp, raw := rawExchange(t, base, head+fmt.Sprintf("Content-Length: %d\r\n\r\n", 100*fileLimit), nil)
	wantCode(t, "Content-Length over the limit, no body sent", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")

	resp, raw = rawExchange(t, base, head+fmt.Sprintf("Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", 3*fileLimit), nil)
	wantCode(t, "multipart Content-Length over the limit, no body sent", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")

	// Chunked, exactly at the limit: stored.
	chunk := bytes.Repeat([]byte{'z'}, 4096)
	resp, raw = rawExchange(t, base, head+"Transfer-Encoding: chunked\r\n\r\n", func(w io.Writer) {
		for range fileLimit / len(chunk) {
			fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		io.WriteString(w, "0\r\n\r\n")
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("chunked body at the limit: got %d %s; want 201", resp.StatusCode, raw)
	}

	// Chunked, past the limit: the chunk that goes over is refused by its
	// size line; the server answers without waiting for its data.
	answered := make(chan struct{})
	wrote := make(chan error, 1)
	resp, raw = rawExchange(t, base, head+"Transfer-Encoding: chunked\r\n\r\n", func(w io.Writer) {
		for range fileLimit / len(chunk) {
			fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		fmt.Fprintf(w, "%x\r\n", len(chunk))
		<-answered
		// The connection is closed: writing on fails sooner or later.
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = w.Write(chunk)
			time.Sleep(time.Millisecond)
		}
		wrote <- err
	})
	close(answered)
	wantCode(t, "chunked body over the limit", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	if !resp.Close {
		t.Fatal("chunked over the limit: the response does not close the connection")
	}
	if err := <-wrote; err == nil {
		t.Fatal("chunked over the limit: 4 MB more were accepted after the refusal; want the connection closed")
	}
	if got := h.storedFiles(); len(got) != 1 {
		t.Fatalf("stored: %v; want only the chunked upload at the limit", got)
	}
}

// TestUploadLyingContentLength: a Content-Length below what follows is
// the body's end: only that many bytes are stored, and what follows is not
// taken for the file.
func TestUploadLyingContentLength(t *testing.T) {
	h := newFileHarness(t)
	base := h.serve()
	path := "/api/v1/canvases/" + h.cv.ID + "/files"
	body := bytes.Repeat([]byte{'q'}, 1000)
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.owner.AccessToken + "\r\nContent-Length: 100\r\n\r\n"
	resp, raw := rawExchange(t, base, head+string(body), nil)
	var f fileJSON
	json.Unmarshal(raw, &f)
	if resp.StatusCode != http.StatusCreated || f.Size != 100 || f.ID != sha(body[:100]) {
		t.Fatalf("lying Content-Length: got %d %s; want 201 with the first 100 bytes", resp.StatusCode, raw)
	}
	if got := h.storedFiles(); len(got) != 1 || !strings.HasSuffix(got[0], f.ID) {
		t.Fatalf("stored: %v; want only %s", got, f.ID)
	}
}

// TestUploadSniffsType: the type comes from the bytes, never from the
// name or the request's Content-Type; only a raster image is shown
// inline, and every file is sandboxed.
func TestUploadSniffsType(t *testing.T) {
	h := newFileHarness(t)
	tok := h.owner.AccessToken
	img := pngOf(t, 7, 3)
	var f fileJSON
	h.upload(h.cv.ID, tok, img, "notes.txt").decode(t, http.StatusCreated, &f)
	if f.Type != "image/png" || f.Width != 7 || f.Height != 3 || f.Name != "notes.txt" {
		t.Fatalf("PNG named .txt: got %+v; want image/png 7x3", f)
	}
	r := h.fileGet(h.cv.ID, f.ID, tok, nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, img) || r.header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), "inline") ||
		r.header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET PNG: got %d %v", r.status, r.header)
	}

	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	r = h.send(http.MethodPost, "/api/v1/canvases/"+h.cv.ID+"/files?name=cat.png", tok, bytes.NewReader(html), "image/png", nil)
	r.decode(t, http.StatusCreated, &f)
	if f.Type != "text/html; charset=utf-8" || f.Width != 0 {
		t.Fatalf("HTML named .png sent as image/png: got %+v; want text/html", f)
	}
	r = h.fileGet(h.cv.ID, f.ID, tok, nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, html) ||
		r.header.Get("Content-Disposition") != `attachment; filename=cat.png` ||
		r.header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET HTML: got %d %v", r.status, r.header)
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`)
	h.upload(h.cv.ID, tok, svg, "x.svg").decode(t, http.StatusCreated, &f)
	r = h.fileGet(h.cv.ID, f.ID, tok, nil)
	if strings.HasPrefix(f.Type, "image/") || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("SVG: got type %s, disposition %q; want no image type, an attachment", f.Type, r.header.Get("Content-Disposition"))
	}
}

// TestUploadNames: the name is metadata: "../" is kept as given and never
// reaches the disk; NUL, control characters and over-long names are
// refused.
func TestUploadNames(t *testing.T) {
	h := newFileHarness(t)
	tok := h.owner.AccessToken
	var f fileJSON
	h.upload(h.cv.ID, tok, []byte("passwd?"), "../../../etc/passwd").decode(t, http.StatusCreated, &f)
	if f.Name != "../../../etc/passwd" {
		t.Fatalf("name with ../: got %q", f.Name)
	}
	want := filepath.Join(f.ID[:2], f.ID[2:4], f.ID)
	if got := h.storedFiles(); len(got) != 1 || got[0] != want {
		t.Fatalf("stored: %v; want only %s", got, want)
	}
	r := h.fileGet(h.cv.ID, f.ID, tok, nil)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") || strings.ContainsAny(cd, "\r\n") {
		t.Fatalf("Content-Disposition of ../ name: %q", cd)
	}
	h.upload(h.cv.ID, tok, []byte("x"), "a\x00b.png").wantError(t, http.StatusBadRequest, "invalid_text", "name")
	h.upload(h.cv.ID, tok, []byte("x"), "a\r\nSet-Cookie: x=1").wantError(t, http.StatusBadRequest, "invalid_field", "name")
	h.uploadForm(h.cv.ID, tok, []byte("x"), strings.Repeat("n", 10_000)).wantError(t, http.StatusBadRequest, "invalid_field", "name")
	h.upload(h.cv.ID, tok, []byte("x"), strings.Repeat("é", skerhttp.MaxFileNameLen)).decode(t, http.StatusCreated, &f)
	h.upload(h.cv.ID, tok, nil, "empty").wantError(t, http.StatusBadRequest, "invalid_field", "file")
}

// TestFileAccess: strangers get 404 on every file route; a viewer reads
// and lists but may not upload; a file of one canvas is not reachable
// through another.
func TestFileAccess(t *testing.T) {
	h := newFileHarness(t)
	var f fileJSON
	h.upload(h.cv.ID, h.owner.AccessToken, []byte("secret plans"), "plans.txt").decode(t, http.StatusCreated, &f)

	stranger := h.user("stranger@example.com").AccessToken
	h.fileGet(h.cv.ID, f.ID, stranger, nil).wantError(t, http.StatusNotFound, "not_found", "")
	h.get("/api/v1/canvases/"+h.cv.ID+"/files", stranger).wantError(t, http.StatusNotFound, "not_found", "")
	h.upload(h.cv.ID, stranger, []byte("x"), "").wantError(t, http.StatusNotFound, "not_found", "")
	h.fileGet(h.cv.ID, f.ID, "", nil).wantError(t, http.StatusUnauthorized, "unauthorized", "")

	h.user("viewer@example.com")
	viewer := h.user("viewer2@example.com").AccessToken
	h.addMember(h.owner.AccessToken, h.cv.ID, "viewer2@example.com", "viewer")
	r := h.fileGet(h.cv.ID, f.ID, viewer, nil)
	if r.status != http.StatusOK || string(r.body) != "secret plans" {
		t.Fatalf("viewer GET: got %d %q", r.status, r.body)
	}
	var list struct{ Files []fileJSON }
	h.get("/api/v1/canvases/"+h.cv.ID+"/files", viewer).decode(t, http.StatusOK, &list)
	if len(list.Files) != 1 || list.Files[0].ID != f.ID || list.Files[0].Name != "plans.txt" {
		t.Fatalf("viewer list: %+v", list)
	}
	h.upload(h.cv.ID, viewer, []byte("x"), "").wantError(t, http.StatusForbidden, "forbidden", "")

	editor := h.user("editor@example.com").AccessToken
	h.addMember(h.owner.AccessToken, h.cv.ID, "editor@example.com", "editor")
	h.upload(h.cv.ID, editor, []byte("from the editor"), "").decode(t, http.StatusCreated, nil)

	// The stranger's own canvas does not open the owner's file.
	other := h.canvas(stranger, "Other")
	h.fileGet(other.ID, f.ID, stranger, nil).wantError(t, http.StatusNotFound, "not_found", "")
	h.fileGet(h.cv.ID, strings.Repeat("0", 64), h.owner.AccessToken, nil).wantError(t, http.StatusNotFound, "not_found", "")
	h.fileGet(h.cv.ID, "..%2f..%2fetc%2fpasswd", h.owner.AccessToken, nil).wantError(t, http.StatusNotFound, "not_found", "")
}

// TestFileRangeAndETag: Range gives 206 with exactly those bytes, an
// unsatisfiable one 416; If-None-Match with the ETag gives 304; the bytes
// are never compressed.
func TestFileRangeAndETag(t *testing.T) {
	h := newFileHarness(t)
	tok := h.owner.AccessToken
	body := []byte(strings.Repeat("0123456789", 1000))
	var f fileJSON
	h.upload(h.cv.ID, tok, body, "digits.txt").decode(t, http.StatusCreated, &f)

	r := h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"Accept-Encoding": "gzip, br"})
	if r.status != http.StatusOK || !bytes.Equal(r.body, body) || r.header.Get("Content-Encoding") != "" ||
		r.header.Get("ETag") != `"`+f.ID+`"` || r.header.Get("Accept-Ranges") != "bytes" ||
		r.header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
		t.Fatalf("GET: got %d, %d bytes, %v", r.status, len(r.body), r.header)
	}
	r = h.send(http.MethodHead, "/api/v1/canvases/"+h.cv.ID+"/files/"+f.ID, tok, nil, "", nil)
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(body)) ||
		r.header.Get("ETag") != `"`+f.ID+`"` {
		t.Fatalf("HEAD: got %d, %d bytes, %v; want 200, no body, Content-Length %d", r.status, len(r.body), r.header, len(body))
	}
	r = h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"Range": "bytes=1005-1014", "Accept-Encoding": "gzip"})
	if r.status != http.StatusPartialContent || string(r.body) != "5678901234" ||
		r.header.Get("Content-Range") != fmt.Sprintf("bytes 1005-1014/%d", len(body)) {
		t.Fatalf("Range: got %d %q %v; want 206 \"5678901234\"", r.status, r.body, r.header)
	}
	r = h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"Range": "bytes=-3"})
	if r.status != http.StatusPartialContent || string(r.body) != "789" {
		t.Fatalf("suffix Range: got %d %q", r.status, r.body)
	}
	r = h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"Range": "bytes=20000-"})
	r.wantError(t, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "")
	r = h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"If-None-Match": `"` + f.ID + `"`})
	if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != `"`+f.ID+`"` {
		t.Fatalf("If-None-Match: got %d %q %v; want 304", r.status, r.body, r.header)
	}
	r = h.fileGet(h.cv.ID, f.ID, tok, map[string]string{"If-None-Match": `"something-else"`})
	if r.status != http.StatusOK {
		t.Fatalf("If-None-Match of another ETag: got %d; want 200", r.status)
	}
}

// TestSameFileStoredOnce: the same bytes uploaded twice, to one canvas and
// to another, are one stored file that each canvas lists.
func TestSameFileStoredOnce(t *testing.T) {
	h := newFileHarness(t)
	tok := h.owner.AccessToken
	body := pngOf(t, 2, 2)
	second := h.canvas(tok, "Second")
	var a, b, c fileJSON
	h.upload(h.cv.ID, tok, body, "a.png").decode(t, http.StatusCreated, &a)
	h.upload(h.cv.ID, tok, body, "again.png").decode(t, http.StatusCreated, &b)
	h.uploadForm(second.ID, tok, body, "b.png").decode(t, http.StatusCreated, &c)
	if a.ID != b.ID || a.ID != c.ID || b.Name != "a.png" || c.Name != "b.png" {
		t.Fatalf("same bytes thrice: got %+v, %+v, %+v; want one id, the first name per canvas", a, b, c)
	}
	if got := h.storedFiles(); len(got) != 1 {
		t.Fatalf("stored: %v; want one file", got)
	}
	for _, cv := range []string{h.cv.ID, second.ID} {
		var list struct{ Files []fileJSON }
		h.get("/api/v1/canvases/"+cv+"/files", tok).decode(t, http.StatusOK, &list)
		if len(list.Files) != 1 || list.Files[0].ID != a.ID {
			t.Fatalf("files of %s: %+v; want the one", cv, list)
		}
	}
}

// TestFilePreview: a member gets an image's preview at the width asked
// (256 by default), its aspect ratio kept, with the file's headers and an
// ETag of its own (304 when it matches); a stranger, a width not offered
// and a file that is not an image are refused with their codes.
func TestFilePreview(t *testing.T) {
	h := newFileHarness(t)
	var f fileJSON
	h.upload(h.cv.ID, h.owner.AccessToken, pngOf(t, 1000, 500), "big.png").decode(t, http.StatusCreated, &f)
	path := "/api/v1/canvases/" + h.cv.ID + "/files/" + f.ID + "/preview"
	for _, tc := range []struct {
		query string
		w, h  int
	}{{"", 256, 128}, {"?width=128", 128, 64}, {"?width=512", 512, 256}} {
		r := h.send(http.MethodGet, path+tc.query, h.owner.AccessToken, nil, "", nil)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(r.body))
		if r.status != http.StatusOK || err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Fatalf("preview%s: got %d, %dx%d (%v); want 200 and %dx%d", tc.query, r.status, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
		if r.header.Get("Content-Type") != "image/jpeg" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(r.header.Get("Cache-Control"), "immutable") || r.header.Get("Content-Security-Policy") == "" {
			t.Errorf("preview%s headers: %v", tc.query, r.header)
		}
		etag := r.header.Get("ETag")
		if etag != `"`+f.ID+"-"+strconv.Itoa(tc.w)+`"` {
			t.Errorf("preview%s ETag: %q", tc.query, etag)
		}
		if r := h.send(http.MethodGet, path+tc.query, h.owner.AccessToken, nil, "", map[string]string{"If-None-Match": etag}); r.status != http.StatusNotModified {
			t.Errorf("preview%s If-None-Match: got %d; want 304", tc.query, r.status)
		}
	}
	h.send(http.MethodGet, path+"?width=300", h.owner.AccessToken, nil, "", nil).wantError(t, http.StatusBadRequest, "invalid_field", "width")
	h.send(http.MethodGet, path+"?width=x", h.owner.AccessToken, nil, "", nil).wantError(t, http.StatusBadRequest, "invalid_field", "width")
	stranger := h.user("stranger@example.com").AccessToken
	h.send(http.MethodGet, path, stranger, nil, "", nil).wantError(t, http.StatusNotFound, "not_found", "")
	var txt fileJSON
	h.upload(h.cv.ID, h.owner.AccessToken, []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), "x.svg").decode(t, http.StatusCreated, &txt)
	h.send(http.MethodGet, "/api/v1/canvases/"+h.cv.ID+"/files/"+txt.ID+"/preview", h.owner.AccessToken, nil, "", nil).
		wantError(t, http.StatusNotFound, "not_found", "")
}

// TestUploadQuotas: an upload past the canvas's quota or past the user's
// (all canvases together) is 403 quota_exceeded, naming the quota; bytes
// the canvas holds already count nothing new; a canvas at its quota is
// refused before the body is stored. Both stores keep the sums.
func TestUploadQuotas(t *testing.T) {
	h := &fileHarness{harness: newHarness(t), root: t.TempDir()}
	st, err := files.NewFS(h.root)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.ServeFiles(skerhttp.FilesConfig{Store: st, MaxSize: fileLimit, CanvasQuota: 100_000, UserQuota: 150_000})
	h.owner = h.user("owner@example.com")
	h.cv = h.canvas(h.owner.AccessToken, "Quotas")
	tok := h.owner.AccessToken
	a, b := bytes.Repeat([]byte("a"), 60_000), bytes.Repeat([]byte("b"), 60_000)
	h.upload(h.cv.ID, tok, a, "a").decode(t, http.StatusCreated, nil)
	h.upload(h.cv.ID, tok, b, "b").wantError(t, http.StatusForbidden, "quota_exceeded", "")
	h.upload(h.cv.ID, tok, a, "a again").decode(t, http.StatusCreated, nil) // held already: nothing new
	h.upload(h.cv.ID, tok, bytes.Repeat([]byte("c"), 40_000), "c").decode(t, http.StatusCreated, nil)
	full := h.upload(h.cv.ID, tok, []byte("one more"), "d")
	full.wantError(t, http.StatusForbidden, "quota_exceeded", "")
	if !strings.Contains(string(full.body), "FILE_QUOTA_CANVAS") {
		t.Errorf("a full canvas: got %s; want the message to name FILE_QUOTA_CANVAS", full.body)
	}
	second := h.canvas(tok, "Second")
	h.upload(second.ID, tok, b, "b").wantError(t, http.StatusForbidden, "quota_exceeded", "") // 100,000 + 60,000 > 150,000
	r := h.upload(second.ID, tok, bytes.Repeat([]byte("e"), 50_000), "e")
	r.decode(t, http.StatusCreated, nil)
	r = h.upload(second.ID, tok, []byte("f"), "f")
	r.wantError(t, http.StatusForbidden, "quota_exceeded", "")
	if !strings.Contains(string(r.body), "FILE_QUOTA_USER") {
		t.Errorf("a user at the quota: got %s; want the message to name FILE_QUOTA_USER", r.body)
	}
	other := h.user("other@example.com")
	ocv := h.canvas(other.AccessToken, "Other's")
	h.upload(ocv.ID, other.AccessToken, b, "b").decode(t, http.StatusCreated, nil) // quotas are per user
}
