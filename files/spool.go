package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// spool copies r, at most maxSize bytes, into a new temporary file in dir
// while hashing it, and returns the file (open, at its end) with the
// content's FileInfo. On error the file is already removed. The caller
// removes it once done with it.
func spool(ctx context.Context, dir string, r io.Reader, maxSize int64) (*os.File, FileInfo, error) {
	if maxSize <= 0 {
		return nil, FileInfo{}, fmt.Errorf("files: put: maxSize %d, want > 0", maxSize)
	}
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("files: put: temporary file: %w", err)
	}
	fail := func(err error) (*os.File, FileInfo, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, FileInfo{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, maxSize+1))
	switch {
	case err != nil:
		return fail(fmt.Errorf("files: put: read: %w", err))
	case n > maxSize:
		return fail(ErrTooLarge)
	}
	info := FileInfo{ID: hex.EncodeToString(h.Sum(nil)), Size: n}
	info.Type, info.Width, info.Height = Sniff(f, n)
	return f, info, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
