// Package files keeps the bytes of uploaded files. A file is named by the
// hex SHA-256 of its content, so the same content uploaded twice (to one
// canvas or to many) is stored once; which canvas a file belongs to, its
// original name and who uploaded it are the store's metadata (table
// files), not this package's.
//
// Store has two implementations with the same behaviour, checked by one
// conformance suite (files_test.go): FS, a folder on the local disk
// (UPLOAD_PATH), and Objects, a JetStream object store, for a cluster whose
// nodes share no disk (FILE_STORE=nats).
//
// An upload is never visible in part: both spool the bytes to a temporary
// file first, hashing and measuring them, and give the content its name
// only once it is complete (a rename on disk; a put whose metadata
// JetStream records after the last chunk).
//
// The type of a file is sniffed from its bytes (Sniff), never taken from
// the client.
package files

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
)

// FileInfo describes stored content.
type FileInfo struct {
	ID   string // hex SHA-256 of the content, 64 lower-case characters
	Size int64
	// Type is the media type sniffed from the content
	// (net/http.DetectContentType, refined by Sniff).
	Type string
	// Width and Height are an image's size in pixels; 0 for anything
	// that is not a decodable raster image (Raster).
	Width, Height int
}

// Raster reports whether the file is a plain raster image (PNG, JPEG, GIF,
// WebP) whose header decoded: the only content a browser may be given to
// display inline, since none of it can run script.
func (i FileInfo) Raster() bool { return rasterTypes[i.Type] && i.Width > 0 && i.Height > 0 }

var rasterTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Store keeps file content by its SHA-256.
type Store interface {
	// Put reads r to its end and stores the content, at most maxSize
	// bytes (maxSize > 0): more is ErrTooLarge, and nothing is stored.
	// Content already stored is not stored again; its FileInfo is
	// returned all the same. On any error nothing becomes visible.
	Put(ctx context.Context, r io.Reader, maxSize int64) (FileInfo, error)
	// Open returns the content with id and its FileInfo; the caller
	// closes it. ErrNotFound when there is none (or id is malformed).
	Open(ctx context.Context, id string) (io.ReadSeekCloser, FileInfo, error)
	// Stat returns the FileInfo of id, ErrNotFound when there is none.
	Stat(ctx context.Context, id string) (FileInfo, error)
	// Delete removes the content with id; ErrNotFound when there is none.
	Delete(ctx context.Context, id string) error
	// List calls fn with the id of every content stored, in no set order,
	// and stops at fn's first error, which it returns. Content put or
	// deleted while List runs may or may not be listed; an upload in
	// progress never is.
	List(ctx context.Context, fn func(id string) error) error
}

var (
	// ErrNotFound: no content with that id, or a malformed id.
	ErrNotFound = errors.New("files: not found")
	// ErrTooLarge: the content is over Put's maxSize.
	ErrTooLarge = errors.New("files: too large")
)

// ValidID reports whether id is a hex SHA-256 in lower case, the only form
// of id a Store issues. Ids are checked before they are used in a path or
// an object name.
func ValidID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
