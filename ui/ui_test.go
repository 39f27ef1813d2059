package ui_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"

	"github.com/skerhq/sker/ui"
)

const indexHTML = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`

var script = "console.log('" + strings.Repeat("studio ", 200) + "');"

// newApp mounts the handler as app/app.go does: after the server's routes,
// behind the compress middleware.
func newApp(t *testing.T, h fiber.Handler) *fiber.App {
	t.Helper()
	app := fiber.New()
	app.Use(compress.New())
	app.Get("/api/v1/me", func(c *fiber.Ctx) error { return c.SendString("me") })
	app.Get("/health", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Use(h)
	return app
}

type result struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, app *fiber.App, method, target string, header map[string]string) result {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: gzip: %v", method, target, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, target, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func TestHandlerServesBuiltUI(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":              {Data: []byte(indexHTML)},
		"assets/index-abc123.js":  {Data: []byte(script)},
		"assets/index-abc123.css": {Data: []byte("body{}")},
		"favicon.svg":             {Data: []byte("<svg/>")},
	}
	app := newApp(t, ui.New(fsys))
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string // substring
		wantCache          string
		wantType           string // prefix
	}{
		{"root is the page", "GET", "/", 200, `<div id="root">`, "no-cache", "text/html"},
		{"index.html itself", "GET", "/index.html", 200, `<div id="root">`, "no-cache", "text/html"},
		{"client route falls back to the page", "GET", "/c/abc123", 200, `<div id="root">`, "no-cache", "text/html"},
		{"sign-in route", "GET", "/login", 200, `<div id="root">`, "no-cache", "text/html"},
		{"hashed script", "GET", "/assets/index-abc123.js", 200, "studio", "public, max-age=31536000, immutable", "text/javascript"},
		{"hashed style", "GET", "/assets/index-abc123.css", 200, "body{}", "public, max-age=31536000, immutable", "text/css"},
		{"unhashed file revalidates", "GET", "/favicon.svg", 200, "<svg/>", "no-cache", "image/svg+xml"},
		{"HEAD of the page", "HEAD", "/c/x", 200, "", "no-cache", "text/html"},
		{"missing asset is a 404, not the page", "GET", "/assets/gone-123.js", 404, "", "", ""},
		{"missing file is a 404", "GET", "/robots.txt", 404, "", "", ""},
		{"API routes pass through", "GET", "/api/v1/me", 200, "me", "", ""},
		{"unknown API path is not the page", "GET", "/api/v1/nope", 404, "", "", ""},
		{"health passes through", "GET", "/health", 200, "ok", "", ""},
		{"ws is not the page", "GET", "/ws", 404, "", "", ""},
		{"metrics is not the page", "GET", "/metrics", 404, "", "", ""},
		{"POST is not the page", "POST", "/c/abc", 405, "", "", ""},
		{"path traversal stays inside", "GET", "/assets/../index.html", 200, `<div id="root">`, "no-cache", "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, app, tt.method, tt.path, nil)
			if tt.wantStatus == 405 {
				if r.status == 200 {
					t.Fatalf("%s %s: got 200; want it not served by the UI", tt.method, tt.path)
				}
				return
			}
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s: got status %d; want %d", tt.method, tt.path, r.status, tt.wantStatus)
			}
			if tt.wantBody != "" && !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("%s %s: got body %.80q; want it to contain %q", tt.method, tt.path, r.body, tt.wantBody)
			}
			if got := r.header.Get("Cache-Control"); tt.wantCache != "" && got != tt.wantCache {
				t.Errorf("%s %s: got Cache-Control %q; want %q", tt.method, tt.path, got, tt.wantCache)
			}
			if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("%s %s: got Content-Type %q; want %q", tt.method, tt.path, got, tt.wantType)
			}
		})
	}
}

func TestHandlerGzipAndETag(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":             {Data: []byte(indexHTML)},
		"assets/index-abc123.js": {Data: []byte(script)},
	}
	app := newApp(t, ui.New(fsys))
	r := get(t, app, "GET", "/assets/index-abc123.js", map[string]string{"Accept-Encoding": "gzip"})
	if got := r.header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("got Content-Encoding %q; want gzip", got)
	}
	if r.body != script {
		t.Fatalf("got a gzip body that does not decode to the script")
	}
	page := get(t, app, "GET", "/", nil)
	etag := page.header.Get("ETag")
	if etag == "" {
		t.Fatalf("got no ETag on the page")
	}
	again := get(t, app, "GET", "/", map[string]string{"If-None-Match": etag})
	if again.status != http.StatusNotModified {
		t.Fatalf("got status %d with a matching If-None-Match; want 304", again.status)
	}
}

func TestHandlerPlaceholderWithoutBuild(t *testing.T) {
	for _, fsys := range []fstest.MapFS{nil, {"assets/x.js": {Data: []byte("x")}}} {
		var h fiber.Handler
		if fsys == nil {
			h = ui.New(nil)
		} else {
			h = ui.New(fsys)
		}
		app := newApp(t, h)
		r := get(t, app, "GET", "/c/abc", nil)
		if r.status != 200 || !strings.Contains(r.body, "built without the studio UI") {
			t.Fatalf("got %d %.80q; want the placeholder page", r.status, r.body)
		}
		if got := r.header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("got Cache-Control %q; want no-cache", got)
		}
	}
}

// TestEmbeddedHandler serves whatever this build embeds: the built UI or
// the placeholder, both as a page.
func TestEmbeddedHandler(t *testing.T) {
	app := newApp(t, ui.Handler())
	r := get(t, app, "GET", "/", nil)
	if r.status != 200 || !strings.Contains(r.body, "<html") {
		t.Fatalf("got %d %.80q; want a page", r.status, r.body)
	}
	if ui.Built() != !strings.Contains(r.body, "built without the studio UI") {
		t.Fatalf("Built() = %v disagrees with the page served", ui.Built())
	}
}

// TestHandlerServesServiceWorker: the studio's service worker (web/public/sw.js)
// is served from the root, so that its scope is the whole studio, as
// JavaScript, and revalidated on every check so that a new one is seen.
func TestHandlerServesServiceWorker(t *testing.T) {
	const sw = "self.addEventListener('fetch', () => {});"
	app := newApp(t, ui.New(fstest.MapFS{
		"index.html": {Data: []byte(indexHTML)},
		"sw.js":      {Data: []byte(sw)},
	}))
	r := get(t, app, "GET", "/sw.js", nil)
	if r.status != 200 || r.body != sw {
		t.Fatalf("GET /sw.js: got %d %.80q; want 200 and the worker", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("GET /sw.js: got Cache-Control %q; want no-cache", got)
	}
	if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, "text/javascript") {
		t.Errorf("GET /sw.js: got Content-Type %q; want text/javascript", got)
	}

	// A build without one answers 404, never the page as a script.
	app = newApp(t, ui.New(fstest.MapFS{"index.html": {Data: []byte(indexHTML)}}))
	if r := get(t, app, "GET", "/sw.js", nil); r.status != 404 {
		t.Fatalf("GET /sw.js without a worker: got %d; want 404", r.status)
	}
}
