package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
	"golang.org/x/sync/singleflight"
)

// PreviewWidths are the widths a preview may have, in pixels; a request
// for another width is refused, so that the cache holds at most this many
// previews of a file.
var PreviewWidths = []int{128, 256, 512, 1024}

// MaxPreviewPixels bounds the images previewed: a picture of more pixels
// than this (about 8000 × 6000) is not decoded, whatever its file size,
// so that a small file that claims a huge image cannot take the memory.
const MaxPreviewPixels = 50_000_000

// ErrNoPreview: the file is not a raster image that can be previewed, or
// it is over MaxPreviewPixels.
var ErrNoPreview = errors.New("files: no preview")

// Previews makes downscaled copies of images and keeps them in a folder of
// this node (DATA_DIR/previews): each is made once per node, on its first
// request, however many ask at the same time.
type Previews struct {
	dir   string
	group singleflight.Group
}

// NewPreviews keeps previews in dir, which it creates.
func NewPreviews(dir string) (*Previews, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("files: previews: %w", err)
	}
	return &Previews{dir: dir}, nil
}

// Preview is a preview's bytes and media type.
type Preview struct {
	Data []byte
	Type string
}

// Get returns the preview of width pixels of the file id in st, of media
// type typ, made and kept when it is not yet. An image no wider than
// width is its own preview (its bytes as stored). ErrNoPreview for a type
// that is not a raster image or a picture over MaxPreviewPixels.
func (p *Previews) Get(ctx context.Context, st Store, id, typ string, width int) (Preview, error) {
	if !slices.Contains(PreviewWidths, width) {
		return Preview{}, fmt.Errorf("files: preview width %d: want one of %v", width, PreviewWidths)
	}
	if !ValidID(id) || !rasterTypes[typ] {
		return Preview{}, ErrNoPreview
	}
	key := id + "-" + strconv.Itoa(width)
	v, err, _ := p.group.Do(key, func() (any, error) {
		for _, t := range []string{"image/png", "image/jpeg"} {
			if b, err := os.ReadFile(p.path(key, t)); err == nil {
				return Preview{Data: b, Type: t}, nil
			}
		}
		r, _, err := st.Open(ctx, id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		pv, same, err := makePreview(r, typ, width)
		if err != nil || same {
			return pv, err
		}
		if err := p.keep(key, pv); err != nil {
			return nil, err
		}
		return pv, nil
	})
	if err != nil {
		return Preview{}, err
	}
	return v.(Preview), nil
}

func (p *Previews) path(key, typ string) string {
	ext := ".png"
	if typ == "image/jpeg" {
		ext = ".jpg"
	}
	return filepath.Join(p.dir, key[:2], key+ext)
}

// keep writes pv under key, whole or not at all.
func (p *Previews) keep(key string, pv Preview) error {
	path := p.path(key, pv.Type)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("files: previews: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".preview-*")
	if err != nil {
		return fmt.Errorf("files: previews: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pv.Data); err != nil {
		tmp.Close()
		return fmt.Errorf("files: previews: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("files: previews: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// makePreview decodes the image in r and scales it to width, keeping its
// aspect ratio: a JPEG for an opaque picture, a PNG for one with
// transparency. same reports an image no wider than width, whose preview
// is its own bytes.
func makePreview(r io.Reader, typ string, width int) (pv Preview, same bool, err error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Preview{}, false, err
	}
	decodeConfig, decode := decoders(typ)
	cfg, err := decodeConfig(bytes.NewReader(raw))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPreviewPixels {
		return Preview{}, false, ErrNoPreview
	}
	if cfg.Width <= width {
		return Preview{Data: raw, Type: typ}, true, nil
	}
	src, err := decode(bytes.NewReader(raw))
	if err != nil {
		return Preview{}, false, ErrNoPreview
	}
	height := max(1, int(int64(cfg.Height)*int64(width)/int64(cfg.Width)))
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if dst.Opaque() {
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 82})
		pv.Type = "image/jpeg"
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst)
		pv.Type = "image/png"
	}
	if err != nil {
		return Preview{}, false, err
	}
	pv.Data = buf.Bytes()
	return pv, false, nil
}

// decoders are the header and image decoders of a raster type. A GIF's
// preview is its first frame.
func decoders(typ string) (func(io.Reader) (image.Config, error), func(io.Reader) (image.Image, error)) {
	switch typ {
	case "image/png":
		return png.DecodeConfig, png.Decode
	case "image/jpeg":
		return jpeg.DecodeConfig, jpeg.Decode
	case "image/gif":
		return gif.DecodeConfig, gif.Decode
	default: // image/webp
		return webp.DecodeConfig, webp.Decode
	}
}
