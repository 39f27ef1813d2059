package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Objects is a Store in a JetStream object store, for nodes that share no
// disk: every node reads every file, replicated as the bucket says.
//
// An upload is spooled to a local temporary file and hashed before
// anything reaches NATS, so the object is put under its id with complete
// content; JetStream records an object's metadata (what makes it visible)
// only after its last chunk, and nats.go purges the chunks of a put that
// fails. A put cut off by a crash leaves chunks that no name refers to,
// never a visible part.
type Objects struct {
	obs   jetstream.ObjectStore
	spool string // folder of spooled uploads; "" is os.TempDir()
}

// ObjectsConfig configures OpenObjects.
type ObjectsConfig struct {
	// Bucket is the object store's name (natsname.Names.Files).
	Bucket string
	// Replicas is the bucket's copies on a NATS cluster (JOURNAL_REPLICAS);
	// zero means 1.
	Replicas int
	// SpoolDir is the local folder uploads are spooled in; empty means
	// os.TempDir().
	SpoolDir string
}

// OpenObjects creates or updates the bucket and returns a Store in it.
func OpenObjects(ctx context.Context, js jetstream.JetStream, cfg ObjectsConfig) (*Objects, error) {
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o750); err != nil {
			return nil, fmt.Errorf("files: spool folder %s: %w", cfg.SpoolDir, err)
		}
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      cfg.Bucket,
		Description: "SKER uploaded files by SHA-256",
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("files: object store %s: %w", cfg.Bucket, err)
	}
	return &Objects{obs: obs, spool: cfg.SpoolDir}, nil
}

// Metadata keys of an object: its sniffed type and size in pixels.
const (
	metaType   = "sker-type"
	metaWidth  = "sker-width"
	metaHeight = "sker-height"
)

// Put implements Store.
func (s *Objects) Put(ctx context.Context, r io.Reader, maxSize int64) (FileInfo, error) {
	f, info, err := spool(ctx, s.spool, r, maxSize)
	if err != nil {
		return FileInfo{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := s.Stat(ctx, info.ID); err == nil {
		return info, nil // stored already
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: %w", info.ID, err)
	}
	oi, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: info.ID, Metadata: map[string]string{
		metaType: info.Type, metaWidth: strconv.Itoa(info.Width), metaHeight: strconv.Itoa(info.Height),
	}}, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("files: put %s: %w", info.ID, err)
	}
	if want := digest(info.ID); oi.Digest != want || int64(oi.Size) != info.Size {
		// The spool changed under us: never keep content under a
		// name that is not its hash.
		_ = s.obs.Delete(ctx, info.ID)
		return FileInfo{}, fmt.Errorf("files: put %s: stored %d bytes with digest %s, want %d with %s",
			info.ID, oi.Size, oi.Digest, info.Size, want)
	}
	return info, nil
}

// digest is the form JetStream gives an object's SHA-256.
func digest(id string) string {
	sum, _ := hex.DecodeString(id)
	return "SHA-256=" + base64.URLEncoding.EncodeToString(sum)
}

// Stat implements Store.
func (s *Objects) Stat(ctx context.Context, id string) (FileInfo, error) {
	if !ValidID(id) {
		return FileInfo{}, ErrNotFound
	}
	oi, err := s.obs.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return FileInfo{}, ErrNotFound
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("files: stat %s: %w", id, err)
	}
	info := FileInfo{ID: id, Size: int64(oi.Size), Type: oi.Metadata[metaType]}
	info.Width, _ = strconv.Atoi(oi.Metadata[metaWidth])
	info.Height, _ = strconv.Atoi(oi.Metadata[metaHeight])
	return info, nil
}

// Open implements Store. The content is read whole into memory (it is at
// most the upload limit): an object is read as a stream, and serving it
// takes seeking.
func (s *Objects) Open(ctx context.Context, id string) (io.ReadSeekCloser, FileInfo, error) {
	info, err := s.Stat(ctx, id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	res, err := s.obs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, FileInfo{}, ErrNotFound
	}
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("files: open %s: %w", id, err)
	}
	defer res.Close()
	// nats.go checks the digest when the read reaches the end.
	data, err := io.ReadAll(io.LimitReader(res, info.Size+1))
	if err != nil {
		return nil, FileInfo{}, fmt.Errorf("files: open %s: read: %w", id, err)
	}
	if int64(len(data)) != info.Size || sha256.Sum256(data) != mustSum(id) {
		return nil, FileInfo{}, fmt.Errorf("files: open %s: content does not match its id", id)
	}
	return nopCloser{bytes.NewReader(data)}, info, nil
}

func mustSum(id string) (sum [sha256.Size]byte) {
	hex.Decode(sum[:], []byte(id))
	return sum
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Delete implements Store.
func (s *Objects) Delete(ctx context.Context, id string) error {
	// JetStream deletes a deleted object again without an error.
	if _, err := s.Stat(ctx, id); err != nil {
		return err
	}
	err := s.obs.Delete(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("files: delete %s: %w", id, err)
	}
	return nil
}

// List implements Store.
func (s *Objects) List(ctx context.Context, fn func(id string) error) error {
	list, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("files: list: %w", err)
	}
	for _, oi := range list {
		if oi.Deleted || !ValidID(oi.Name) {
			continue
		}
		if err := fn(oi.Name); err != nil {
			return fmt.Errorf("files: list: %w", err)
		}
	}
	return nil
}
