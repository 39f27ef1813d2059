package e2e

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
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eFileLimit is MAX_FILE_SIZE in these tests.
const e2eFileLimit = 256 << 10

type e2eFile struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Name   string `json:"name"`
}

// fileReq sends one request to the file routes and returns the answer.
func fileReq(t *testing.T, s *Sker, method, path, token string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, body)
	noErr(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTP().Do(req)
	noErr(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	noErr(t, err)
	return resp, raw
}

func filesPath(canvasID string) string { return "/api/v1/canvases/" + canvasID + "/files" }

// uploadRaw uploads body as the request body, named by ?name=.
func uploadRaw(t *testing.T, s *Sker, token, canvasID string, body []byte, name string) (*http.Response, []byte) {
	t.Helper()
	return fileReq(t, s, http.MethodPost, filesPath(canvasID)+"?name="+url.QueryEscape(name), token, bytes.NewReader(body),
		map[string]string{"Content-Type": "application/octet-stream"})
}

// uploadMultipart uploads body as the form's "file" part.
func uploadMultipart(t *testing.T, s *Sker, token, canvasID string, body []byte, filename string) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", filename)
	noErr(t, err)
	part.Write(body)
	noErr(t, mw.Close())
	return fileReq(t, s, http.MethodPost, filesPath(canvasID), token, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
}

// answer is a response with its body read.
type answer struct {
	resp *http.Response
	raw  []byte
}

func ans(resp *http.Response, raw []byte) answer { return answer{resp, raw} }

func wantFile(t *testing.T, what string, a answer) e2eFile {
	t.Helper()
	resp, raw := a.resp, a.raw
	var f e2eFile
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &f) != nil {
		t.Fatalf("%s: got %d %s; want 201 with the file", what, resp.StatusCode, raw)
	}
	return f
}

func wantErrorBody(t *testing.T, what string, resp *http.Response, raw []byte, status int, code string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field string }
	}
	json.Unmarshal(raw, &e)
	if resp.StatusCode != status || e.Error.Code != code {
		t.Fatalf("%s: got %d %s; want %d %s", what, resp.StatusCode, raw, status, code)
	}
}

func e2ePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	noErr(t, png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))))
	return buf.Bytes()
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// contentFiles lists the files under dir, the spool folder aside.
func contentFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".tmp" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// rawPost writes a request head on a fresh connection, then body (if
// any) in the background, and reads the first answer.
func rawPost(t *testing.T, s *Sker, head string, body func(w io.Writer)) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	noErr(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, err = io.WriteString(conn, head)
	noErr(t, err)
	if body != nil {
		go body(conn)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, raw
}

// TestFilesUploadAndServe runs the file routes on the real binary with
// the default store (FILE_STORE=fs, DATA_DIR/uploads): the size limit
// decided before the body is read, sniffed types, sandboxed downloads,
// names, access, Range and ETag, one copy of the same bytes, and files
// still there after a restart.
func TestFilesUploadAndServe(t *testing.T) {
	s := StartSker(t, Options{Env: map[string]string{"MAX_FILE_SIZE": fmt.Sprint(e2eFileLimit)}})
	ctx := t.Context()
	owner := s.NewClient()
	_, err := owner.Register(ctx, "owner@example.com", "correct horse battery", "Owner")
	noErr(t, err)
	cv, err := owner.CreateCanvas(ctx, "Files")
	noErr(t, err)
	tok := owner.Token
	uploads := filepath.Join(s.DataDir, "uploads")

	// Size: just under and at the limit are stored; one byte over is not.
	for _, n := range []int{e2eFileLimit - 1, e2eFileLimit} {
		body := bytes.Repeat([]byte{'s'}, n)
		if f := wantFile(t, fmt.Sprintf("%d bytes", n), ans(uploadRaw(t, s, tok, cv.ID, body, "size.txt"))); f.Size != int64(n) || f.ID != hexSHA(body) {
			t.Fatalf("%d bytes: got %+v", n, f)
		}
	}
	resp, raw := uploadMultipart(t, s, tok, cv.ID, bytes.Repeat([]byte{'o'}, e2eFileLimit+1), "over.txt")
	wantErrorBody(t, "form with a file one byte over", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	head := "POST " + filesPath(cv.ID) + " HTTP/1.1\r\nHost: sker\r\nAuthorization: Bearer " + tok + "\r\n"
	resp, raw = rawPost(t, s, head+fmt.Sprintf("Content-Length: %d\r\n\r\n", e2eFileLimit+1), nil)
	wantErrorBody(t, "Content-Length one byte over, before any body", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	resp, raw = rawPost(t, s, head+"Content-Length: 1073741824\r\n\r\n", nil)
	wantErrorBody(t, "Content-Length of 1 GiB, before any body", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	chunk := bytes.Repeat([]byte{'c'}, 8192)
	answered := make(chan struct{})
	resp, raw = rawPost(t, s, head+"Transfer-Encoding: chunked\r\n\r\n", func(w io.Writer) {
		for range e2eFileLimit / len(chunk) {
			fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		fmt.Fprintf(w, "%x\r\n", len(chunk)) // the chunk that goes over
		<-answered
	})
	close(answered)
	wantErrorBody(t, "chunked body past the limit", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	// A Content-Length that lies short: the body ends there.
	resp, raw = rawPost(t, s, head+"Content-Length: 10\r\n\r\n0123456789EXTRA BYTES NOT PART OF THE FILE", nil)
	if f := wantFile(t, "lying Content-Length", answer{resp, raw}); f.Size != 10 || f.ID != hexSHA([]byte("0123456789")) {
		t.Fatalf("lying Content-Length: got %+v; want the 10 bytes it announced", f)
	}

	// Types come from the bytes.
	img := e2ePNG(t, 12, 8)
	p := wantFile(t, "PNG named .txt", ans(uploadMultipart(t, s, tok, cv.ID, img, "notes.txt")))
	if p.Type != "image/png" || p.Width != 12 || p.Height != 8 || p.Name != "notes.txt" {
		t.Fatalf("PNG named .txt: got %+v; want image/png 12x8", p)
	}
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, tok, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, img) || resp.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Cache-Control") != "private, max-age=31536000, immutable" || resp.Header.Get("ETag") != `"`+p.ID+`"` {
		t.Fatalf("GET PNG: got %d, %d bytes, %v", resp.StatusCode, len(raw), resp.Header)
	}
	html := []byte("<html><script>fetch('/api/v1/me')</script></html>")
	hf := wantFile(t, "HTML named .png", ans(uploadRaw(t, s, tok, cv.ID, html, "photo.png")))
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+hf.ID, tok, nil, nil)
	if hf.Type != "text/html; charset=utf-8" || !bytes.Equal(raw, html) ||
		resp.Header.Get("Content-Disposition") != "attachment; filename=photo.png" ||
		resp.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET HTML named .png: type %s, headers %v", hf.Type, resp.Header)
	}

	// Names are metadata.
	nf := wantFile(t, "name with ../", ans(uploadRaw(t, s, tok, cv.ID, []byte("dots"), "../../../../etc/passwd")))
	if nf.Name != "../../../../etc/passwd" {
		t.Fatalf("name with ../: got %q", nf.Name)
	}
	resp, raw = uploadRaw(t, s, tok, cv.ID, []byte("nul"), "a\x00b")
	wantErrorBody(t, "name with NUL", resp, raw, http.StatusBadRequest, "invalid_text")
	resp, raw = uploadMultipart(t, s, tok, cv.ID, []byte("long"), strings.Repeat("x", 10_000))
	wantErrorBody(t, "name of 10,000 characters", resp, raw, http.StatusBadRequest, "invalid_field")
	resp, raw = uploadRaw(t, s, tok, cv.ID, []byte("long"), strings.Repeat("x", 10_000))
	wantErrorBody(t, "name of 10,000 characters in the query", resp, raw, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large")

	// Range and ETag.
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, tok, nil, map[string]string{"Range": "bytes=0-7"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(raw, img[:8]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 0-7/%d", len(img)) {
		t.Fatalf("Range: got %d %q %v", resp.StatusCode, raw, resp.Header)
	}
	resp, _ = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, tok, nil, map[string]string{"If-None-Match": `"` + p.ID + `"`})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: got %d; want 304", resp.StatusCode)
	}

	// Access: a viewer reads, never uploads; a stranger sees nothing.
	viewer := s.NewClient()
	_, err = viewer.Register(ctx, "viewer@example.com", "correct horse battery", "Viewer")
	noErr(t, err)
	_, err = owner.AddMember(ctx, cv.ID, "viewer@example.com", "viewer")
	noErr(t, err)
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, viewer.Token, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, img) {
		t.Fatalf("viewer GET: got %d", resp.StatusCode)
	}
	resp, raw = uploadRaw(t, s, viewer.Token, cv.ID, []byte("no"), "")
	wantErrorBody(t, "viewer upload", resp, raw, http.StatusForbidden, "forbidden")
	stranger := s.NewClient()
	_, err = stranger.Register(ctx, "stranger@example.com", "correct horse battery", "Stranger")
	noErr(t, err)
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, stranger.Token, nil, nil)
	wantErrorBody(t, "stranger GET", resp, raw, http.StatusNotFound, "not_found")
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID), stranger.Token, nil, nil)
	wantErrorBody(t, "stranger list", resp, raw, http.StatusNotFound, "not_found")
	resp, raw = uploadRaw(t, s, stranger.Token, cv.ID, []byte("no"), "")
	wantErrorBody(t, "stranger upload", resp, raw, http.StatusNotFound, "not_found")

	// The same bytes twice, and on a second canvas: one stored copy.
	second, err := owner.CreateCanvas(ctx, "Second")
	noErr(t, err)
	before := len(contentFiles(t, uploads))
	again := wantFile(t, "the PNG again", ans(uploadRaw(t, s, tok, cv.ID, img, "again.png")))
	other := wantFile(t, "the PNG on a second canvas", ans(uploadRaw(t, s, tok, second.ID, img, "other.png")))
	if again.ID != p.ID || other.ID != p.ID || other.Name != "other.png" {
		t.Fatalf("same bytes: got %+v and %+v; want id %s", again, other, p.ID)
	}
	if after := len(contentFiles(t, uploads)); after != before {
		t.Fatalf("files under DATA_DIR/uploads: %d before, %d after uploading stored bytes again; want the same", before, after)
	}

	// After a restart every file is still served.
	s.Stop()
	s.Start()
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(second.ID)+"/"+p.ID, tok, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, img) {
		t.Fatalf("GET after a restart: got %d", resp.StatusCode)
	}
	var list struct{ Files []e2eFile }
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID), tok, nil, nil)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &list) != nil || len(list.Files) != 6 {
		t.Fatalf("list after a restart: got %d %s; want 6 files", resp.StatusCode, raw)
	}
}

// TestFilesKilledMidUpload: a process killed (SIGKILL) while an upload
// arrives leaves nothing visible: the canvas lists no file and no content
// is stored.
func TestFilesKilledMidUpload(t *testing.T) {
	s := StartSker(t, Options{Env: map[string]string{"MAX_FILE_SIZE": fmt.Sprint(e2eFileLimit)}})
	ctx := t.Context()
	owner := s.NewClient()
	_, err := owner.Register(ctx, "owner@example.com", "correct horse battery", "Owner")
	noErr(t, err)
	cv, err := owner.CreateCanvas(ctx, "Files")
	noErr(t, err)

	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	noErr(t, err)
	defer conn.Close()
	head := "POST " + filesPath(cv.ID) + " HTTP/1.1\r\nHost: sker\r\nAuthorization: Bearer " + owner.Token +
		fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", e2eFileLimit)
	_, err = io.WriteString(conn, head+strings.Repeat("half", e2eFileLimit/8))
	noErr(t, err)
	time.Sleep(200 * time.Millisecond)
	s.Kill()
	s.Start()

	var list struct{ Files []e2eFile }
	resp, raw := fileReq(t, s, http.MethodGet, filesPath(cv.ID), owner.Token, nil, nil)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &list) != nil || len(list.Files) != 0 {
		t.Fatalf("files after a kill mid-upload: got %d %s; want none", resp.StatusCode, raw)
	}
	if got := contentFiles(t, filepath.Join(s.DataDir, "uploads")); len(got) != 0 {
		t.Fatalf("stored after a kill mid-upload: %v; want nothing", got)
	}
}

// TestFilesNATSStore: with FILE_STORE=nats the content lives in the
// JetStream object store, not on disk, and is served after a restart.
func TestFilesNATSStore(t *testing.T) {
	s := StartSker(t, Options{Env: map[string]string{"FILE_STORE": "nats", "MAX_FILE_SIZE": fmt.Sprint(e2eFileLimit)}})
	ctx := t.Context()
	owner := s.NewClient()
	_, err := owner.Register(ctx, "owner@example.com", "correct horse battery", "Owner")
	noErr(t, err)
	cv, err := owner.CreateCanvas(ctx, "Files")
	noErr(t, err)

	img := e2ePNG(t, 300, 200)
	big := bytes.Repeat([]byte("chunk me "), e2eFileLimit/9) // two object chunks of 128 KiB
	p := wantFile(t, "PNG", ans(uploadMultipart(t, s, owner.Token, cv.ID, img, "a.png")))
	b := wantFile(t, "large text", ans(uploadRaw(t, s, owner.Token, cv.ID, big, "big.txt")))
	if p.Type != "image/png" || p.Width != 300 || p.Height != 200 || b.Size != int64(len(big)) {
		t.Fatalf("uploads: got %+v and %+v", p, b)
	}
	again := wantFile(t, "PNG again", ans(uploadRaw(t, s, owner.Token, cv.ID, img, "b.png")))
	if again.ID != p.ID {
		t.Fatalf("same bytes: got ids %s and %s", p.ID, again.ID)
	}
	resp, raw := rawPost(t, s, "POST "+filesPath(cv.ID)+" HTTP/1.1\r\nHost: sker\r\nAuthorization: Bearer "+owner.Token+
		fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n", e2eFileLimit+1), nil)
	wantErrorBody(t, "one byte over", resp, raw, http.StatusRequestEntityTooLarge, "file_too_large")
	if got := contentFiles(t, filepath.Join(s.DataDir, "uploads")); len(got) != 0 {
		t.Fatalf("files on disk with FILE_STORE=nats: %v; want none", got)
	}

	s.Stop()
	s.Start()
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+b.ID, owner.Token, nil, map[string]string{"Range": "bytes=9-17"})
	if resp.StatusCode != http.StatusPartialContent || string(raw) != "chunk me " {
		t.Fatalf("Range after a restart: got %d %q", resp.StatusCode, raw)
	}
	resp, raw = fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+p.ID, owner.Token, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, img) {
		t.Fatalf("GET after a restart: got %d, %d bytes", resp.StatusCode, len(raw))
	}
}

// TestFilesClusterNATSStore: on three nodes that share no disk, with
// FILE_STORE=nats and three replicas, a file uploaded through node-1 is
// served by the other two, also after node-1 is killed.
func TestFilesClusterNATSStore(t *testing.T) {
	nodes := startCluster(t, 3, 3, "FILE_STORE", "nats", "MAX_FILE_SIZE", fmt.Sprint(e2eFileLimit))
	ctx := t.Context()
	ann := nodes[0].NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Shared")
	noErr(t, err)
	body := bytes.Repeat([]byte("replicated "), e2eFileLimit/11)
	f := wantFile(t, "upload on node-1", ans(uploadRaw(t, nodes[0], ann.Token, cv.ID, body, "r.txt")))
	if f.ID != hexSHA(body) {
		t.Fatalf("upload: got id %s; want %s", f.ID, hexSHA(body))
	}
	for _, s := range nodes[1:] {
		resp, raw := fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+f.ID, ann.Token, nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(raw, body) {
			t.Fatalf("GET on %s: got %d, %d bytes; want 200 with the %d uploaded", s.URL(), resp.StatusCode, len(raw), len(body))
		}
	}
	nodes[0].Kill()
	deadline := time.Now().Add(time.Minute)
	for _, s := range nodes[1:] {
		for {
			resp, raw := fileReq(t, s, http.MethodGet, filesPath(cv.ID)+"/"+f.ID, ann.Token, nil, map[string]string{"Range": "bytes=0-9"})
			if resp.StatusCode == http.StatusPartialContent && string(raw) == "replicated" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET on %s after node-1's kill: got %d %s", s.URL(), resp.StatusCode, raw)
			}
			time.Sleep(200 * time.Millisecond) // the bucket's stream leader moves
		}
	}
	if got := contentFiles(t, filepath.Join(nodes[1].DataDir, "uploads")); len(got) != 0 {
		t.Fatalf("files on node-2's disk: %v; want none", got)
	}
}
