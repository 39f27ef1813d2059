package files

import (
	"encoding/binary"
	"image"
	_ "image/gif" // image.DecodeConfig of GIF
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
)

// octetStream is the type of content that claims to be an image by its
// first bytes but whose header does not decode: served as a download,
// never displayed.
const octetStream = "application/octet-stream"

// Sniff returns the media type of the size bytes of r and, for a raster
// image, its width and height. The type is net/http.DetectContentType's
// (which never reports script-capable types such as SVG as images); a
// PNG, JPEG, GIF or WebP must also have a header that decodes, else it is
// application/octet-stream.
func Sniff(r io.ReaderAt, size int64) (typ string, width, height int) {
	head := make([]byte, min(size, 512))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	typ = http.DetectContentType(head)
	switch typ {
	case "image/png", "image/jpeg", "image/gif":
		cfg, format, err := image.DecodeConfig(io.NewSectionReader(r, 0, size))
		if err != nil || "image/"+format != typ || cfg.Width <= 0 || cfg.Height <= 0 {
			return octetStream, 0, 0
		}
		return typ, cfg.Width, cfg.Height
	case "image/webp":
		w, h, ok := webpSize(head)
		if !ok {
			return octetStream, 0, 0
		}
		return typ, w, h
	}
	return typ, 0, 0
}

// webpSize reads a WebP image's canvas size from its first chunk: VP8X
// (extended), VP8L (lossless) or "VP8 " (lossy). See
// https://developers.google.com/speed/webp/docs/riff_container.
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	u24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	switch string(b[12:16]) {
	case "VP8X":
		return u24(b[24:27]) + 1, u24(b[27:30]) + 1, true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		bits := binary.LittleEndian.Uint32(b[21:25])
		return int(bits&0x3fff) + 1, int(bits>>14&0x3fff) + 1, true
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		w = int(binary.LittleEndian.Uint16(b[26:28]) & 0x3fff)
		h = int(binary.LittleEndian.Uint16(b[28:30]) & 0x3fff)
		return w, h, w > 0 && h > 0
	}
	return 0, 0, false
}
