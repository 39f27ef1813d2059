package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/testkit"
)

// TestFS runs the conformance suite on a folder.
func TestFS(t *testing.T) {
	conformance(t, func(t *testing.T) files.Store {
		s, err := files.NewFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestObjects runs the conformance suite on a JetStream object store of a
// real NATS server.
func TestObjects(t *testing.T) {
	_, js := testkit.JetStream(t)
	n := 0
	conformance(t, func(t *testing.T) files.Store {
		n++
		s, err := files.OpenObjects(t.Context(), js, files.ObjectsConfig{
			Bucket: "TEST_FILES_" + string(rune('A'+n)), Replicas: 1, SpoolDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func conformance(t *testing.T, open func(t *testing.T) files.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("SameContentOnce", func(t *testing.T) { testSameContentOnce(t, open(t)) })
	t.Run("MaxSize", func(t *testing.T) { testMaxSize(t, open(t)) })
	t.Run("FailedPutInvisible", func(t *testing.T) { testFailedPut(t, open(t)) })
	t.Run("Sniff", func(t *testing.T) { testSniffed(t, open(t)) })
	t.Run("BadIDs", func(t *testing.T) { testBadIDs(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
}

// testList: List names every content stored once, no deleted one, nothing
// else, and stops at fn's error.
func testList(t *testing.T, s files.Store) {
	listed := func() []string {
		t.Helper()
		var ids []string
		if err := s.List(t.Context(), func(id string) error { ids = append(ids, id); return nil }); err != nil {
			t.Fatalf("List: %v", err)
		}
		slices.Sort(ids)
		return ids
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("List of an empty store: got %v; want none", got)
	}
	var want []string
	for _, body := range []string{"one", "two", "three", "two"} {
		info := put(t, s, []byte(body))
		if !slices.Contains(want, info.ID) {
			want = append(want, info.ID)
		}
	}
	gone := put(t, s, []byte("deleted again"))
	if err := s.Delete(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if got := listed(); !slices.Equal(got, want) {
		t.Fatalf("List: got %v; want %v", got, want)
	}
	stop := errors.New("stop")
	n := 0
	err := s.List(t.Context(), func(string) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("List whose fn fails: got %v after %d calls; want stop after 1", err, n)
	}
}

func id(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func put(t *testing.T, s files.Store, b []byte) files.FileInfo {
	t.Helper()
	info, err := s.Put(t.Context(), bytes.NewReader(b), 1<<20)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(b), err)
	}
	return info
}

func testRoundTrip(t *testing.T, s files.Store) {
	ctx := t.Context()
	body := []byte(strings.Repeat("hello, canvas\n", 20000)) // 280 KB: several object chunks
	info := put(t, s, body)
	if info.ID != id(body) || info.Size != int64(len(body)) || info.Type != "text/plain; charset=utf-8" {
		t.Fatalf("Put: got %+v; want id %s, size %d, text/plain", info, id(body), len(body))
	}
	st, err := s.Stat(ctx, info.ID)
	if err != nil || st != info {
		t.Fatalf("Stat: got %+v, %v; want %+v", st, err, info)
	}
	f, oi, err := s.Open(ctx, info.ID)
	if err != nil || oi != info {
		t.Fatalf("Open: got %+v, %v; want %+v", oi, err, info)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Open read: got %d bytes, %v; want the %d put", len(got), err, len(body))
	}
	if _, err := f.Seek(100_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 14)
	if _, err := io.ReadFull(f, part); err != nil || !bytes.Equal(part, body[100_000:100_014]) {
		t.Fatalf("read after seek: got %q, %v; want %q", part, err, body[100_000:100_014])
	}
	if err := s.Delete(ctx, info.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, info.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Stat after Delete: got %v; want ErrNotFound", err)
	}
	if err := s.Delete(ctx, info.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Delete twice: got %v; want ErrNotFound", err)
	}
}

// testSameContentOnce: two puts of one content are one stored file: a
// single Delete removes it.
func testSameContentOnce(t *testing.T, s files.Store) {
	body := []byte("the same bytes, uploaded twice")
	a, b := put(t, s, body), put(t, s, body)
	if a != b {
		t.Fatalf("two puts: got %+v and %+v; want the same", a, b)
	}
	if err := s.Delete(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), a.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Stat after one Delete of content put twice: got %v; want ErrNotFound (one copy)", err)
	}
}

func testMaxSize(t *testing.T, s files.Store) {
	const limit = 4096
	for _, n := range []int{limit - 1, limit} {
		body := bytes.Repeat([]byte{'x'}, n)
		info, err := s.Put(t.Context(), bytes.NewReader(body), limit)
		if err != nil || info.Size != int64(n) {
			t.Fatalf("Put(%d bytes, limit %d): got %+v, %v; want stored", n, limit, info, err)
		}
	}
	over := bytes.Repeat([]byte{'y'}, limit+1)
	if _, err := s.Put(t.Context(), bytes.NewReader(over), limit); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("Put(%d bytes, limit %d): got %v; want ErrTooLarge", len(over), limit, err)
	}
	for _, b := range [][]byte{over, over[:limit]} {
		if _, err := s.Stat(t.Context(), id(b)); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("Stat of a refused upload (%d bytes): got %v; want ErrNotFound", len(b), err)
		}
	}
	// An endless reader stops at the limit.
	if _, err := s.Put(t.Context(), endless{}, limit); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("Put(endless): got %v; want ErrTooLarge", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

// testFailedPut: an upload that breaks off, or whose context ends, leaves
// nothing visible under the id of what was read.
func testFailedPut(t *testing.T, s files.Store) {
	head := []byte(strings.Repeat("partial ", 1000))
	r := io.MultiReader(bytes.NewReader(head), errReader{})
	if _, err := s.Put(t.Context(), r, 1<<20); err == nil {
		t.Fatal("Put of a reader that fails: got nil error")
	}
	if _, err := s.Stat(t.Context(), id(head)); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Stat of the part read: got %v; want ErrNotFound", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, bytes.NewReader(head), 1<<20); err == nil {
		t.Fatal("Put with an ended context: got nil error")
	}
	if _, err := s.Stat(t.Context(), id(head)); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Stat after a cancelled Put: got %v; want ErrNotFound", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func testSniffed(t *testing.T, s files.Store) {
	for _, c := range sniffCases(t) {
		info := put(t, s, c.body)
		if info.Type != c.typ || info.Width != c.w || info.Height != c.h || info.Raster() != c.raster {
			t.Errorf("%s: got %s %dx%d raster %t; want %s %dx%d raster %t",
				c.name, info.Type, info.Width, info.Height, info.Raster(), c.typ, c.w, c.h, c.raster)
		}
		if st, err := s.Stat(t.Context(), info.ID); err != nil || st != info {
			t.Errorf("%s: Stat got %+v, %v; want %+v", c.name, st, err, info)
		}
	}
}

type sniffCase struct {
	name   string
	body   []byte
	typ    string
	w, h   int
	raster bool
}

// encode makes a w×h image in format.
func encode(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sniffCases(t *testing.T) []sniffCase {
	webp := append([]byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f"), 0, 0, 0, 0, 0, 0, 0, 0, 0)
	// width-1 = 9, height-1 = 4 in 14-bit fields.
	bits := uint32(9) | uint32(4)<<14
	webp[21], webp[22], webp[23], webp[24] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	fakePNG := append([]byte("\x89PNG\r\n\x1a\n"), []byte("<script>alert(1)</script>")...)
	return []sniffCase{
		{"png", encode(t, "png", 3, 2), "image/png", 3, 2, true},
		{"jpeg", encode(t, "jpeg", 17, 5), "image/jpeg", 17, 5, true},
		{"gif", encode(t, "gif", 4, 9), "image/gif", 4, 9, true},
		{"webp", webp, "image/webp", 10, 5, true},
		{"html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), "text/html; charset=utf-8", 0, 0, false},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "text/xml; charset=utf-8", 0, 0, false},
		{"pdf", []byte("%PDF-1.7\n1 0 obj\n"), "application/pdf", 0, 0, false},
		{"png magic, no png", fakePNG, "application/octet-stream", 0, 0, false},
		{"binary", []byte{0, 1, 2, 3, 0xff}, "application/octet-stream", 0, 0, false},
	}
}

func testBadIDs(t *testing.T, s files.Store) {
	ctx := t.Context()
	good := put(t, s, []byte("a file"))
	for _, bad := range []string{"", "../../etc/passwd", strings.ToUpper(good.ID), good.ID[:63], good.ID + "0",
		"../" + good.ID[3:], strings.Repeat("g", 64), good.ID[:62] + "/a"} {
		if _, err := s.Stat(ctx, bad); !errors.Is(err, files.ErrNotFound) {
			t.Errorf("Stat(%q): got %v; want ErrNotFound", bad, err)
		}
		if _, _, err := s.Open(ctx, bad); !errors.Is(err, files.ErrNotFound) {
			t.Errorf("Open(%q): got %v; want ErrNotFound", bad, err)
		}
		if err := s.Delete(ctx, bad); !errors.Is(err, files.ErrNotFound) {
			t.Errorf("Delete(%q): got %v; want ErrNotFound", bad, err)
		}
	}
	if _, err := s.Stat(ctx, good.ID); err != nil {
		t.Fatalf("the good file after bad ids: %v", err)
	}
}

// TestFSLayout: a file lives at ab/cd/<id>, once however often it is put,
// and nothing is left in the spool folder, after success or failure.
func TestFSLayout(t *testing.T) {
	root := t.TempDir()
	s, err := files.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("layout")
	info := put(t, s, body)
	put(t, s, body)
	s.Put(t.Context(), bytes.NewReader(bytes.Repeat([]byte{1}, 100)), 10)
	s.Put(t.Context(), io.MultiReader(bytes.NewReader(body), errReader{}), 100)
	var stored []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			stored = append(stored, rel)
		}
		return err
	})
	want := filepath.Join(info.ID[:2], info.ID[2:4], info.ID)
	if len(stored) != 1 || stored[0] != want {
		t.Fatalf("files under UPLOAD_PATH: got %v; want only %s", stored, want)
	}
	got, err := os.ReadFile(filepath.Join(root, want))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("stored content: got %q, %v", got, err)
	}
}
