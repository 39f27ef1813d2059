package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/store"
)

// Store is what the service needs of the store (store.Store).
type Store interface {
	SaveVersion(ctx context.Context, v store.Version) error
	ListVersions(ctx context.Context, canvasID string) ([]store.Version, error)
	VersionAtOrBefore(ctx context.Context, canvasID string, seq uint64) (store.Version, error)
	Canvas(ctx context.Context, id string) (store.Canvas, error)
}

// Journal reads a canvas's retained journal records (*journal.Journal).
type Journal interface {
	Read(ctx context.Context, canvasID string, fn func(streamSeq uint64, rec journal.Record) error) (uint64, error)
}

// Config configures a Service.
type Config struct {
	Store    Store
	Journal  Journal
	Canvases canvases.Canvases
	// Retention is how long versions are kept; zero means 30 days.
	Retention time.Duration
	// Spacing is the least time between two automatic points; zero means
	// 10 minutes.
	Spacing time.Duration
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service answers the history of canvases.
type Service struct{ cfg Config }

// New returns a Service; Store, Journal and Canvases are required.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Journal == nil || cfg.Canvases == nil {
		return nil, errors.New("versions: Config.Store, Journal and Canvases are required")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.Spacing <= 0 {
		cfg.Spacing = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Point is one entry of a canvas's timeline.
type Point struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Name    string    `json:"name,omitempty"`
	By      string    `json:"by,omitempty"`
	Authors []string  `json:"authors"`
}

// Timeline lists the kept points of a canvas, oldest first.
func (s *Service) Timeline(ctx context.Context, canvasID string) ([]Point, error) {
	vs, err := s.cfg.Store.ListVersions(ctx, canvasID)
	if err != nil {
		return nil, err
	}
	out := make([]Point, 0, len(vs))
	for _, v := range vs {
		out = append(out, Point{Seq: v.Seq, At: v.CreatedAt, Kind: v.Kind, Name: v.Name, By: v.CreatedBy, Authors: v.Authors})
	}
	return out, nil
}

// batches reads the journal's batches of a canvas, in seq order.
func (s *Service) batches(ctx context.Context, canvasID string) ([]journal.Committed, error) {
	var out []journal.Committed
	_, err := s.cfg.Journal.Read(ctx, canvasID, func(_ uint64, rec journal.Record) error {
		for _, raw := range rec.Batches {
			var c journal.Committed
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("versions: corrupt batch in the journal of %s: %w", canvasID, err)
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// At rebuilds the canvas as it was at seq: the nearest kept state at or
// before seq plus the journal's batches up to it (from an empty canvas
// when the journal still starts at seq 1). ErrFutureSeq past the current
// seq; ErrNotRebuildable, saying why, when neither reaches.
func (s *Service) At(ctx context.Context, canvasID string, seq uint64) (*canvas.State, error) {
	cur, err := s.cfg.Canvases.Snapshot(ctx, canvasID)
	if err != nil {
		return nil, err
	}
	if seq > cur.Seq {
		return nil, fmt.Errorf("%w: seq %d; the canvas is at %d", ErrFutureSeq, seq, cur.Seq)
	}
	if seq == cur.Seq {
		return FromExport(cur)
	}
	st, err := s.base(ctx, canvasID, seq)
	if err != nil {
		return nil, err
	}
	if st.Seq == seq {
		return st, nil
	}
	batches, err := s.batches(ctx, canvasID)
	if err != nil {
		return nil, err
	}
	if err := Replay(st, batches, seq); err != nil {
		return nil, fmt.Errorf("canvas %s at seq %d: %w", canvasID, seq, err)
	}
	return st, nil
}

// base is the kept state nearest at or before seq, or the empty canvas at
// seq 0 when none is kept (its title and settings are the canvas's
// current ones: a rename before the first point is not known).
func (s *Service) base(ctx context.Context, canvasID string, seq uint64) (*canvas.State, error) {
	v, err := s.cfg.Store.VersionAtOrBefore(ctx, canvasID, seq)
	if err == nil {
		return DecodeState(v.State)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	c, err := s.cfg.Store.Canvas(ctx, canvasID)
	if err != nil {
		return nil, err
	}
	settings := map[string]json.RawMessage{}
	_ = json.Unmarshal(c.Settings, &settings)
	return canvas.NewState(canvasID, canvas.Meta{Title: c.Title, Settings: settings}, replayLimits), nil
}

// DiffSeqs compares the canvas at two seqs.
func (s *Service) DiffSeqs(ctx context.Context, canvasID string, from, to uint64) (Diff, error) {
	a, err := s.At(ctx, canvasID, from)
	if err != nil {
		return Diff{}, err
	}
	b, err := s.At(ctx, canvasID, to)
	if err != nil {
		return Diff{}, err
	}
	return Compare(a, b), nil
}

// Restore commits, as one ordinary batch by author, what brings the
// canvas's content back to that at seq, and returns the batch's seq (the
// current seq, with nothing committed, when nothing differs).
func (s *Service) Restore(ctx context.Context, canvasID, author string, seq uint64) (uint64, error) {
	target, err := s.At(ctx, canvasID, seq)
	if err != nil {
		return 0, err
	}
	ex, err := s.cfg.Canvases.Snapshot(ctx, canvasID)
	if err != nil {
		return 0, err
	}
	cur, err := FromExport(ex)
	if err != nil {
		return 0, err
	}
	ops := RestoreOps(cur, target)
	if len(ops) == 0 {
		return cur.Seq, nil
	}
	return s.cfg.Canvases.Submit(ctx, canvasID, author, fmt.Sprintf("restore-%d-%d", seq, cur.Seq), ops)
}

// Keep stores the committed state of the canvas now as a version of kind
// (named with name, by who) and returns its seq. A version of that kind
// at that seq already kept is not an error.
func (s *Service) Keep(ctx context.Context, canvasID, kind, name, by string) (uint64, error) {
	ex, err := s.cfg.Canvases.Snapshot(ctx, canvasID)
	if err != nil {
		return 0, err
	}
	return ex.Seq, s.keep(ctx, canvasID, ex, kind, name, by)
}

func (s *Service) keep(ctx context.Context, canvasID string, ex canvas.Export, kind, name, by string) error {
	st, err := FromExport(ex)
	if err != nil {
		return err
	}
	authors := []string{} // none before the first batch: no journal read on a canvas's creation
	if ex.Seq > 0 {
		authors = s.authorsSince(ctx, canvasID, ex.Seq)
	}
	v := store.Version{CanvasID: canvasID, Seq: ex.Seq, Kind: kind, Name: name, CreatedBy: by,
		CreatedAt: s.cfg.Now().UTC(), Authors: authors, State: EncodeState(st)}
	err = s.cfg.Store.SaveVersion(ctx, v)
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// authorsSince lists who committed the journal's batches after the
// previous kept point up to seq (as far as the journal holds them).
func (s *Service) authorsSince(ctx context.Context, canvasID string, seq uint64) []string {
	var prev uint64
	if seq > 0 {
		if v, err := s.cfg.Store.VersionAtOrBefore(ctx, canvasID, seq-1); err == nil {
			prev = v.Seq
		}
	}
	batches, err := s.batches(ctx, canvasID)
	if err != nil {
		s.cfg.Logger.Warn("versions: authors of a point unknown", "canvas_id", canvasID, "seq", seq, "err", err)
		return []string{}
	}
	out := []string{}
	for _, b := range batches {
		if b.Seq > prev && b.Seq <= seq && !slices.Contains(out, b.Author) {
			out = append(out, b.Author)
		}
	}
	slices.Sort(out)
	return out
}

// AIFinisher keeps a version of the canvas just before an AI run writes
// its answer, then commits the answer through Next. A version that cannot
// be kept is logged; the answer is committed anyway.
type AIFinisher struct {
	Service *Service
	Next    canvases.Canvases
}

// FinishAIRun implements aiengine.Finisher.
func (f AIFinisher) FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, r canvases.AIResult) error {
	if _, err := f.Service.Keep(ctx, canvasID, store.VersionAI, "", ""); err != nil {
		f.Service.cfg.Logger.Warn("versions: no version before an AI answer", "canvas_id", canvasID, "run", runID, "err", err)
	}
	return f.Next.FinishAIRun(ctx, canvasID, nodeID, runID, r)
}

// KeepBase keeps the canvas as created: seq 0, no content, its first title
// and settings, as an automatic point. The seqs before any later kept
// version rebuild from it, so they show the title the canvas had then
// rather than its current one. One already kept is not an error.
func (s *Service) KeepBase(ctx context.Context, c store.Canvas) error {
	settings := map[string]json.RawMessage{}
	if len(c.Settings) > 0 {
		if err := json.Unmarshal(c.Settings, &settings); err != nil {
			return fmt.Errorf("versions: base of canvas %s: settings: %w", c.ID, err)
		}
	}
	ex := canvas.Export{Version: canvas.ExportVersion, ID: c.ID, Title: c.Title, Settings: settings}
	return s.keep(ctx, c.ID, ex, store.VersionAuto, "", "")
}

// KeepPoint keeps an automatic version from a checkpoint's state
// (actors.Config.KeepPoint); one already kept at that seq is not an error.
func (s *Service) KeepPoint(ctx context.Context, canvasID string, ex canvas.Export) error {
	return s.keep(ctx, canvasID, ex, store.VersionAuto, "", "")
}
