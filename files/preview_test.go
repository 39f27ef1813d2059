package files_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/skerhq/sker/files"
)

func encoded(t *testing.T, typ string, w, h int, alpha bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 100
			}
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 50, a})
		}
	}
	var buf bytes.Buffer
	var err error
	switch typ {
	case "image/png":
		err = png.Encode(&buf, img)
	case "image/jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "image/gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Previews of PNG, JPEG, GIF and WebP (lossy and lossless with alpha) are
// the width asked with the aspect ratio kept, a JPEG when opaque and a PNG
// when not; an image no wider is its own preview; each is made once (the
// second Get reads the kept copy even when the content is gone); other
// widths, types and oversized pictures are refused.
func TestPreviews(t *testing.T) {
	ctx := context.Background()
	st, err := files.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pv, err := files.NewPreviews(dir)
	if err != nil {
		t.Fatal(err)
	}
	webpOpaque, err := os.ReadFile("testdata/opaque-600x300.webp")
	if err != nil {
		t.Fatal(err)
	}
	webpAlpha, err := os.ReadFile("testdata/alpha-600x300.webp")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, typ string
		data      []byte
		wantType  string
	}{
		{"png", "image/png", encoded(t, "image/png", 600, 300, false), "image/jpeg"},
		{"png with alpha", "image/png", encoded(t, "image/png", 600, 300, true), "image/png"},
		{"jpeg", "image/jpeg", encoded(t, "image/jpeg", 600, 300, false), "image/jpeg"},
		{"gif", "image/gif", encoded(t, "image/gif", 600, 300, false), "image/jpeg"},
		{"webp", "image/webp", webpOpaque, "image/jpeg"},
		{"webp lossless with alpha", "image/webp", webpAlpha, "image/png"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := st.Put(ctx, bytes.NewReader(tc.data), 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			got := make([]files.Preview, 4)
			for i := range got {
				wg.Go(func() {
					p, err := pv.Get(ctx, st, info.ID, tc.typ, 256)
					if err != nil {
						t.Errorf("Get: %v", err)
					}
					got[i] = p
				})
			}
			wg.Wait()
			p := got[0]
			cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
			if err != nil || cfg.Width != 256 || cfg.Height != 128 || p.Type != tc.wantType || "image/"+format != p.Type {
				t.Fatalf("preview: %s %dx%d (%v), type %s; want %s 256x128", format, cfg.Width, cfg.Height, err, p.Type, tc.wantType)
			}
			same, err := pv.Get(ctx, st, info.ID, tc.typ, 1024)
			if err != nil || !bytes.Equal(same.Data, tc.data) || same.Type != tc.typ {
				t.Errorf("a preview wider than the image: got %d bytes %s, %v; want the image itself", len(same.Data), same.Type, err)
			}
			if err := st.Delete(ctx, info.ID); err != nil {
				t.Fatal(err)
			}
			again, err := pv.Get(ctx, st, info.ID, tc.typ, 256)
			if err != nil || !bytes.Equal(again.Data, p.Data) {
				t.Errorf("a second Get after the content went: %v; want the kept preview", err)
			}
		})
	}
	png := encoded(t, "image/png", 600, 300, false)
	info, err := st.Put(ctx, bytes.NewReader(png), 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pv.Get(ctx, st, info.ID, "image/png", 300); err == nil {
		t.Error("width 300: got nil; want an error naming the widths")
	}
	if _, err := pv.Get(ctx, st, info.ID, "image/svg+xml", 256); !errors.Is(err, files.ErrNoPreview) {
		t.Errorf("an SVG: got %v; want ErrNoPreview", err)
	}
	if _, err := pv.Get(ctx, st, "../"+info.ID[3:], "image/png", 256); !errors.Is(err, files.ErrNoPreview) {
		t.Errorf("a malformed id: got %v; want ErrNoPreview", err)
	}
	// A PNG header that claims 100,000 × 100,000 pixels is not decoded.
	bomb := append([]byte(nil), png[:33]...)
	copy(bomb[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(bomb[29:33], crc32.ChecksumIEEE(bomb[12:29])) // the IHDR chunk stays valid
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != 100_000 {
		t.Fatalf("the oversized header: %+v, %v; want a valid header of 100,000 pixels a side", cfg, err)
	}
	binfo, err := st.Put(ctx, bytes.NewReader(bomb), 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pv.Get(ctx, st, binfo.ID, "image/png", 256); !errors.Is(err, files.ErrNoPreview) {
		t.Errorf("a picture of 10^10 pixels: got %v; want ErrNoPreview", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*", ".preview-*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}
