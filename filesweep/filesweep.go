// Package filesweep deletes the files nothing needs any more: a file of a
// canvas (a store files row) that no card of the canvas's state refers to
// and that nothing the canvas's journal still keeps mentions is marked
// unreferenced, and deleted once it has stayed so for the grace period
// (FILE_GRACE), so that a card brought back by an undo within it finds its
// file; content (package files, by SHA-256) that no canvas holds any more,
// after a grace period or a canvas deletion, is removed from the file
// store.
//
// A Sweeper runs on every node with a file store, each on its own timer:
// every step is idempotent (a store transaction per canvas; a content
// removed twice is not an error), and a node whose UPLOAD_PATH is its own
// disk cleans its own.
//
// What counts as a reference is conservative: any SHA-256-shaped string
// (64 lower-case hex digits) anywhere in a card's data in the canvas's
// checkpoint, in any batch its journal retains (the journal keeps what
// the checkpoint does not cover yet), read in that order (journal first,
// so that a checkpoint taken in between covers what a trim removed), or
// in the state of any version of the canvas its history keeps
// (canvas_versions), which a restore would bring back.
package filesweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/skerhq/sker/files"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
)

// DefaultGrace is Config.Grace when zero (FILE_GRACE's default).
const DefaultGrace = 7 * 24 * time.Hour

// Store is what a Sweeper needs of the store.
type Store interface {
	FileCanvases(ctx context.Context) ([]string, error)
	SweepCanvasFiles(ctx context.Context, canvasID string, referenced []string, now, cutoff time.Time) ([]store.File, error)
	FileHeld(ctx context.Context, id string) (bool, error)
	LoadCheckpoint(ctx context.Context, canvasID string) (store.Checkpoint, error)
	VersionStates(ctx context.Context, canvasID string, fn func(state []byte) error) error
}

// Journal is what a Sweeper reads of the journal (*journal.Journal).
type Journal interface {
	Read(ctx context.Context, canvasID string, fn func(streamSeq uint64, rec journal.Record) error) (uint64, error)
}

// Config configures New.
type Config struct {
	Store Store
	// Journal is read for the batches the checkpoints do not cover yet;
	// required, or a card only the journal holds would not count.
	Journal Journal
	// Files is the file store; nil: contents are not swept.
	Files files.Store
	// Grace is how long a file stays unreferenced before its row is
	// deleted (FILE_GRACE); zero means DefaultGrace.
	Grace time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Sweeper sweeps a node's files; Sweep may be called from one goroutine at
// a time (a mutex enforces it).
type Sweeper struct {
	cfg Config
	mu  sync.Mutex
	// unheld holds the content ids the previous Sweep found held by no
	// canvas. Content is removed only when two Sweeps in a row find it
	// so: an upload puts its content before it records its row, and must
	// not lose it in between. Guarded by mu.
	unheld map[string]bool
}

// New returns a Sweeper.
func New(cfg Config) *Sweeper {
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sweeper{cfg: cfg, unheld: map[string]bool{}}
}

// Result counts what a Sweep did.
type Result struct {
	Canvases int // canvases looked at
	Rows     int // files rows deleted
	Contents int // contents removed from the file store
}

// Sweep runs once at now: the rows of every canvas, then the contents. A
// canvas whose references cannot be read is left as it is (logged), and
// the others are swept; the error returned is the first failure.
func (s *Sweeper) Sweep(ctx context.Context, now time.Time) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res Result
	canvases, err := s.cfg.Store.FileCanvases(ctx)
	if err != nil {
		return res, fmt.Errorf("filesweep: %w", err)
	}
	var first error
	for _, id := range canvases {
		n, err := s.sweepCanvas(ctx, id, now)
		if err != nil {
			s.cfg.Logger.Warn("file sweep: canvas skipped", "canvas_id", id, "err", err)
			first = cmp(first, err)
			continue
		}
		res.Canvases++
		res.Rows += n
	}
	n, err := s.sweepContents(ctx)
	res.Contents = n
	if err != nil {
		first = cmp(first, err)
	}
	if res.Rows > 0 || res.Contents > 0 {
		s.cfg.Logger.Info("file sweep", "canvases", res.Canvases, "rows_deleted", res.Rows, "contents_removed", res.Contents)
	}
	return res, first
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (s *Sweeper) sweepCanvas(ctx context.Context, canvasID string, now time.Time) (int, error) {
	refs, err := s.References(ctx, canvasID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil // deleted meanwhile: its rows went with it
	}
	if err != nil {
		return 0, err
	}
	gone, err := s.cfg.Store.SweepCanvasFiles(ctx, canvasID, refs, now, now.Add(-s.cfg.Grace))
	if err != nil {
		return 0, fmt.Errorf("filesweep: %w", err)
	}
	for _, f := range gone {
		s.cfg.Logger.Info("unreferenced file deleted", "canvas_id", canvasID, "file_id", f.ID, "unreferenced_at", f.UnreferencedAt)
	}
	return len(gone), nil
}

// idPattern is what may be a file id in card data or a journal batch.
var idPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// References lists the file ids the canvas's journal and checkpoint may
// refer to (conservatively: every SHA-256-shaped string in them).
func (s *Sweeper) References(ctx context.Context, canvasID string) ([]string, error) {
	seen := map[string]bool{}
	add := func(b []byte) {
		for _, m := range idPattern.FindAll(b, -1) {
			seen[string(m)] = true
		}
	}
	_, err := s.cfg.Journal.Read(ctx, canvasID, func(_ uint64, rec journal.Record) error {
		for _, b := range rec.Batches {
			add(b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("filesweep: journal of canvas %s: %w", canvasID, err)
	}
	cp, err := s.cfg.Store.LoadCheckpoint(ctx, canvasID)
	if err != nil {
		return nil, fmt.Errorf("filesweep: checkpoint of canvas %s: %w", canvasID, err)
	}
	for _, n := range cp.Nodes {
		add(n.Data)
	}
	for _, e := range cp.Edges {
		add(e.Data)
	}
	// A kept version brings its cards back when restored.
	err = s.cfg.Store.VersionStates(ctx, canvasID, func(state []byte) error { add(state); return nil })
	if err != nil {
		return nil, fmt.Errorf("filesweep: versions of canvas %s: %w", canvasID, err)
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	return out, nil
}

// sweepContents removes the contents no canvas has held in this sweep and
// the previous one.
func (s *Sweeper) sweepContents(ctx context.Context) (int, error) {
	if s.cfg.Files == nil {
		return 0, nil
	}
	var ids []string
	if err := s.cfg.Files.List(ctx, func(id string) error { ids = append(ids, id); return nil }); err != nil {
		return 0, fmt.Errorf("filesweep: %w", err)
	}
	unheld := map[string]bool{}
	removed := 0
	for _, id := range ids {
		held, err := s.cfg.Store.FileHeld(ctx, id)
		if err != nil {
			return removed, fmt.Errorf("filesweep: %w", err)
		}
		switch {
		case held:
		case !s.unheld[id]:
			unheld[id] = true // the next sweep removes it
		default:
			err := s.cfg.Files.Delete(ctx, id)
			if err != nil && !errors.Is(err, files.ErrNotFound) {
				unheld[id] = true
				s.cfg.Logger.Warn("file sweep: content not removed", "file_id", id, "err", err)
				continue
			}
			removed++
		}
	}
	s.unheld = unheld
	return removed, nil
}
