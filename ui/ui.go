// Package ui serves the studio, the browser UI built from web/, from files
// embedded in the binary.
//
// `npm run build` in web/ writes the UI into ui/dist/app (git-ignored);
// dist/ itself is committed with a README, so `go build ./...` works on a
// fresh clone before any UI build, and then serves a placeholder page that
// says how to build the UI.
//
// Handler serves hashed assets (/assets/...) with a one-year immutable
// cache, index.html with no-cache, and index.html for every other GET path
// that is not a file and not the server's own (/api, /ws, /health, /ready,
// /metrics), so that client routes survive a reload. Compression is left
// to the server's middleware. The studio's service worker, /sw.js, is one
// of the unhashed files: served from the root (its scope is the whole
// studio) with no-cache, so that the browser sees a new one at once.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed all:dist
var dist embed.FS

//go:embed placeholder.html
var placeholder []byte

// Cache-Control values.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// reserved are the server's own path prefixes: never answered with the UI.
var reserved = []string{"/api", "/ws", "/health", "/ready", "/metrics"}

// file is one file held in memory, ready to send.
type file struct {
	data  []byte
	ctype string
	etag  string
	cache string
}

// Assets returns the built UI, or nil when the binary was built without it.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist/app")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}

// Built reports whether the binary holds a built UI.
func Built() bool { return Assets() != nil }

// Handler serves the embedded UI (or the placeholder page); register it
// after every other route.
func Handler() fiber.Handler { return New(Assets()) }

// New returns a handler serving the UI in fsys; a nil fsys, or one without
// index.html, serves the placeholder page. Files are read once, here.
func New(fsys fs.FS) fiber.Handler {
	files := map[string]*file{}
	if fsys != nil {
		_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			files[p] = newFile(p, data)
			return nil
		})
	}
	index := files["index.html"]
	if index == nil {
		index = newFile("index.html", placeholder)
	}
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		p := c.Path()
		if isReserved(p) {
			return c.Next()
		}
		name := strings.TrimPrefix(path.Clean("/"+p), "/")
		if f := files[name]; f != nil && name != "index.html" {
			return send(c, f)
		}
		// A missing hashed asset or other file must not get the page: a
		// stale script tag would run HTML as JavaScript.
		if name != "" && name != "index.html" &&
			(strings.HasPrefix(name, "assets/") || strings.Contains(path.Base(name), ".")) {
			return c.Next()
		}
		return send(c, index)
	}
}

func newFile(name string, data []byte) *file {
	sum := sha256.Sum256(data)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	cache := cacheRevalidate
	if strings.HasPrefix(name, "assets/") {
		cache = cacheImmutable
	}
	return &file{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache}
}

func isReserved(p string) bool {
	for _, r := range reserved {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

func send(c *fiber.Ctx, f *file) error {
	c.Set(fiber.HeaderCacheControl, f.cache)
	c.Set(fiber.HeaderETag, f.etag)
	if match := c.Get(fiber.HeaderIfNoneMatch); match != "" && bytes.Contains([]byte(match), []byte(f.etag)) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.ctype)
	return c.Send(f.data)
}
