package skerhttp

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/store"
)

// A bundle is an export with the files its cards refer to: a zip whose
// entry bundleJSON is the canvas.Export and whose entries files/<id> are
// the bytes of each file, named by its SHA-256. Nothing else may be in
// it, and no name in it is ever used as a path.
const (
	bundleJSON   = "canvas.sker.json"
	bundleFiles  = "files/"
	maxBundleIDs = 10_000 // files in one bundle
)

// bundleLimits bounds what decodeBundle reads.
type bundleLimits struct {
	JSON  int64 // the export's bytes
	File  int64 // one file's bytes (MAX_FILE_SIZE)
	Total int64 // every entry's bytes together, uncompressed
}

// bundle is a decoded bundle: the export's JSON and each file's bytes.
type bundle struct {
	JSON  []byte
	Files map[string][]byte
}

// isZip reports whether body starts as a zip file does.
func isZip(body []byte) bool { return bytes.HasPrefix(body, []byte("PK\x03\x04")) }

// decodeBundle reads a bundle, trusting none of its headers: an entry's
// sizes are counted as it is read, never taken from the zip; a name must
// be bundleJSON or files/ and a SHA-256 its content has; no name twice.
// Errors name the entry and are ready for the client.
func decodeBundle(data []byte, lim bundleLimits) (bundle, error) {
	bad := func(format string, args ...any) (bundle, error) {
		return bundle{}, apierr.Invalid("bundle", fmt.Sprintf(format, args...))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return bad("not a readable zip file: %v", err)
	}
	if len(zr.File) > maxBundleIDs+2 {
		return bad("%d entries; a bundle holds at most %d files", len(zr.File), maxBundleIDs)
	}
	b := bundle{Files: map[string][]byte{}}
	var total int64
	seenJSON := false
	for _, f := range zr.File {
		name := f.Name
		if name == bundleFiles && f.FileInfo().IsDir() {
			continue
		}
		id, isFile := strings.CutPrefix(name, bundleFiles)
		limit := lim.File
		switch {
		case name == bundleJSON && !seenJSON:
			limit, seenJSON = lim.JSON, true
		case name == bundleJSON:
			return bad("entry %q twice", name)
		case isFile && files.ValidID(id):
			if _, dup := b.Files[id]; dup {
				return bad("entry %q twice", name)
			}
		default:
			return bad("entry %q: a bundle holds only %s and %s<sha256>", printable(name), bundleJSON, bundleFiles)
		}
		limit = min(limit, lim.Total-total)
		content, err := readEntry(f, limit)
		if err != nil {
			return bad("entry %q: %v", name, err)
		}
		total += int64(len(content))
		if name == bundleJSON {
			b.JSON = content
			continue
		}
		if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != id {
			return bad("entry %q: its content's SHA-256 is %x, not its name", name, sum)
		}
		b.Files[id] = content
	}
	if !seenJSON {
		return bad("no entry %s", bundleJSON)
	}
	return b, nil
}

// readEntry reads an entry whole, at most limit bytes.
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, fmt.Errorf("compression method %d; a bundle uses store or deflate", f.Method)
	}
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	content, err := io.ReadAll(io.LimitReader(r, max(limit, 0)+1))
	if err != nil {
		return nil, err
	}
	if int64(len(content)) > limit {
		return nil, fmt.Errorf("over the %d bytes left for it (MAX_FILE_SIZE, BODY_LIMIT)", max(limit, 0))
	}
	return content, nil
}

// printable shortens and quotes-safe a name from a zip for a message.
func printable(name string) string {
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return strings.ToValidUTF8(name, "?")
}

// cardFiles lists the file ids the nodes' data name (data.file), once each.
func cardFiles(nodes []*canvas.Node) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range nodes {
		var id string
		if raw, ok := n.Data["file"]; ok && json.Unmarshal(raw, &id) == nil && files.ValidID(id) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// exportBundle answers GET …/export?files=1: a zip of the export and the
// files its cards refer to that the canvas holds. It is streamed; an error
// once the zip has begun cuts it short (the client sees a broken zip).
func (s *Server) exportBundle(c *fiber.Ctx, ex canvas.Export) error {
	if s.files == nil {
		return apierr.New(http.StatusNotFound, apierr.CodeNotFound, "this node serves no files")
	}
	js, err := json.Marshal(ex)
	if err != nil {
		return fmt.Errorf("export bundle: %w", err)
	}
	var held []string
	for _, id := range cardFiles(ex.Nodes) {
		if _, err := s.st.CanvasFile(c.UserContext(), ex.ID, id); err == nil {
			held = append(held, id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("export bundle: %w", err)
		}
	}
	ctx, log := c.UserContext(), Logger(c)
	st := s.files.store
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, strings.Replace(exportDisposition(ex.Title), ".sker.json", ".sker.zip", 2))
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		zw := zip.NewWriter(w)
		err := writeEntry(zw, bundleJSON, bytes.NewReader(js))
		for _, id := range held {
			if err != nil {
				break
			}
			var r io.ReadCloser
			if r, _, err = st.Open(ctx, id); err == nil {
				err = writeEntry(zw, bundleFiles+id, r)
				r.Close()
			}
		}
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			log.Error("export bundle cut short", "canvas_id", ex.ID, "err", err)
		}
	})
	return nil
}

func writeEntry(zw *zip.Writer, name string, r io.Reader) error {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return err
}

// importBundleFiles stores the files of a bundle into the new canvas id,
// as an upload does (quotas, MAX_FILE_SIZE, types sniffed from the bytes),
// each named as the first card that refers to it names it. Errors are
// ready for the client.
func (s *Server) importBundleFiles(c *fiber.Ctx, id, userID string, b bundle, ex canvas.ImportFile) error {
	if len(b.Files) == 0 {
		return nil
	}
	if s.files == nil {
		return apierr.Invalid("bundle", "this node keeps no files: import the JSON alone")
	}
	names := map[string]string{}
	for _, n := range ex.Nodes {
		var fid, name string
		if json.Unmarshal(n.Data["file"], &fid) != nil || json.Unmarshal(n.Data["name"], &name) != nil || validName(name) != nil {
			continue
		}
		if _, ok := names[fid]; !ok {
			names[fid] = name
		}
	}
	for fid, content := range b.Files {
		if int64(len(content)) > s.files.max {
			return s.files.tooLarge()
		}
		if err := s.files.checkQuota(c, id, userID, int64(len(content))); err != nil {
			return err
		}
		info, err := s.files.store.Put(c.UserContext(), bytes.NewReader(content), s.files.max)
		if err != nil {
			return fmt.Errorf("import bundle: %w", err)
		}
		if info.ID != fid {
			return apierr.Invalid("bundle", fmt.Sprintf("entry %s%s: stored as %s", bundleFiles, fid, info.ID))
		}
		_, err = s.st.AddFile(c.UserContext(), store.File{
			CanvasID: id, ID: info.ID, Size: info.Size, Type: info.Type, Width: info.Width, Height: info.Height,
			Name: names[fid], CreatedBy: userID, CreatedAt: time.Now(),
		})
		if err != nil {
			return fmt.Errorf("import bundle: %w", err)
		}
	}
	return nil
}

// decodeImportBundle decodes the zip body of an import: the JSON at most
// the import's body limit, each file at most MAX_FILE_SIZE, everything
// together at most twice the body limit uncompressed.
func (s *Server) decodeImportBundle(body []byte) (bundle, error) {
	lim := bundleLimits{JSON: s.cfg.BodyLimit, File: DefaultMaxFileSize, Total: 2 * s.cfg.BodyLimit}
	if s.files != nil {
		lim.File = s.files.max
	}
	return decodeBundle(body, lim)
}
