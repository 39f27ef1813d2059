package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/dirlock"
	"github.com/skerhq/sker/embednats"
	"github.com/skerhq/sker/journal"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// Kinds of a doctor's Problem.
const (
	// ProblemGap: the journal does not continue the canvas's checkpoint
	// (its batches after the checkpoint start later than the next seq, or
	// skip seqs): the canvas cannot load. Repaired by accepting the loss.
	ProblemGap = "gap"
	// ProblemOrphan: the journal holds records of a canvas the store does
	// not have. Repaired by removing them.
	ProblemOrphan = "orphan"
)

// SeqRange is an inclusive range of canvas seqs; the zero range is empty.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

func (r SeqRange) String() string {
	if r.From == r.To {
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d–%d", r.From, r.To)
}

// phrase is the range as the subject of a sentence: "seq 4 is",
// "seqs 6–30 are".
func (r SeqRange) phrase() string {
	if r.From == r.To {
		return fmt.Sprintf("seq %d is", r.From)
	}
	return fmt.Sprintf("seqs %s are", r)
}

// Problem is one disagreement between the store and the journal.
type Problem struct {
	Canvas string `json:"canvas"`
	Kind   string `json:"kind"`
	// CheckpointSeq is the seq of the store's checkpoint (gap only).
	CheckpointSeq uint64 `json:"checkpoint_seq"`
	// JournalFirstSeq and JournalLastSeq are the seqs of the first and
	// the last batch the journal holds of the canvas (0: none).
	JournalFirstSeq uint64 `json:"journal_first_seq"`
	JournalLastSeq  uint64 `json:"journal_last_seq"`
	// Records and LastStreamSeq: how many journal records the canvas has,
	// and the stream sequence of the last one.
	Records       int    `json:"records"`
	LastStreamSeq uint64 `json:"last_stream_seq"`
	// Missing: the seqs neither the checkpoint nor the journal holds
	// (gap only): lost already.
	Missing SeqRange `json:"missing"`
	// Lost: what a repair loses for good: of a gap, every seq after the
	// checkpoint (the missing ones and the journal's batches after them,
	// which cannot apply without them); of an orphan, every batch it has.
	Lost SeqRange `json:"lost"`
	// Repair says what --repair does (or did).
	Repair string `json:"repair"`
	// Repaired is set once --repair did it; RepairError when it could not.
	Repaired    bool   `json:"repaired"`
	RepairError string `json:"repair_error,omitempty"`
}

// DoctorReport is what `sker doctor` found and, with --repair, did.
type DoctorReport struct {
	Store            string    `json:"store"`
	Journal          string    `json:"journal"`
	Canvases         int       `json:"canvases"`
	JournalCanvases  int       `json:"journal_canvases"`
	JournalRecords   int       `json:"journal_records"`
	Replays          int       `json:"replays"` // canvases whose journal is ahead of the checkpoint: they replay, fine
	Problems         []Problem `json:"problems"`
	RepairRequested  bool      `json:"repair"`
	ProblemsRemained int       `json:"problems_remaining"`
	// Streams are the deployment's JetStream streams with their
	// replicas and leader; a warning there does not change the exit
	// status (no repair mends it: NATS does, or the operator).
	Streams      []StreamHealth `json:"streams"`
	StreamsError string         `json:"streams_error,omitempty"`
}

// doctorStore is what the doctor reads of the store.
type doctorStore interface {
	CheckpointSeqs(ctx context.Context) (map[string]uint64, error)
	Canvas(ctx context.Context, id string) (store.Canvas, error)
}

// canvasScan is one canvas's journal as the scan found it, against its
// checkpoint.
type canvasScan struct {
	inStore    bool
	cp         uint64
	records    int
	lastStream uint64
	first      uint64 // first batch seq, 0 when none
	last       uint64 // last batch seq
	next       uint64 // the seq the replay expects next
	gap        bool
	missing    SeqRange
}

func (c *canvasScan) add(rec journal.ScanRecord) {
	c.records++
	c.lastStream = max(c.lastStream, rec.StreamSeq)
	for _, s := range rec.Seqs {
		if c.first == 0 {
			c.first = s
		}
		c.last = max(c.last, s)
		// As the load replays: covered batches are skipped, the first
		// batch after them must be the next seq.
		if s < c.next || c.gap {
			continue
		}
		if s == c.next {
			c.next++
			continue
		}
		c.gap, c.missing = true, SeqRange{From: c.next, To: s - 1}
	}
}

// Diagnose checks the store against the journal: every canvas's
// checkpoint seq against the batches its journal holds, and every journal
// subject against the store's canvases. It reads the store first, then
// the journal, and changes nothing.
func Diagnose(ctx context.Context, st doctorStore, j *journal.Journal) (DoctorReport, error) {
	seqs, err := st.CheckpointSeqs(ctx)
	if err != nil {
		return DoctorReport{}, fmt.Errorf("app: doctor: %w", err)
	}
	scans := map[string]*canvasScan{}
	for id, cp := range seqs {
		scans[id] = &canvasScan{inStore: true, cp: cp, next: cp + 1}
	}
	rep := DoctorReport{Canvases: len(seqs), Problems: []Problem{}}
	if j != nil {
		err = j.Scan(ctx, func(rec journal.ScanRecord) error {
			c := scans[rec.Canvas]
			if c == nil {
				c = &canvasScan{next: 1}
				scans[rec.Canvas] = c
			}
			if c.records == 0 {
				rep.JournalCanvases++
			}
			rep.JournalRecords++
			c.add(rec)
			return nil
		})
		if err != nil {
			return DoctorReport{}, fmt.Errorf("app: doctor: %w", err)
		}
	}
	for id, c := range scans {
		if p, ok := c.problem(id); ok {
			rep.Problems = append(rep.Problems, p)
		} else if c.inStore && c.last > c.cp {
			rep.Replays++
		}
	}
	sort.Slice(rep.Problems, func(a, b int) bool { return rep.Problems[a].Canvas < rep.Problems[b].Canvas })
	rep.ProblemsRemained = len(rep.Problems)
	return rep, nil
}

// problem is what is wrong with one canvas, if anything.
func (c *canvasScan) problem(id string) (Problem, bool) {
	p := Problem{Canvas: id, CheckpointSeq: c.cp, JournalFirstSeq: c.first, JournalLastSeq: c.last,
		Records: c.records, LastStreamSeq: c.lastStream}
	switch {
	case !c.inStore:
		p.Kind = ProblemOrphan
		if c.last > 0 {
			p.Lost = SeqRange{From: c.first, To: c.last}
		}
		p.Repair = fmt.Sprintf("remove the canvas's %d journal records (the store has no such canvas)", c.records)
	case c.gap:
		p.Kind = ProblemGap
		p.Missing = c.missing
		p.Lost = SeqRange{From: c.cp + 1, To: c.last}
		p.Repair = fmt.Sprintf("remove the canvas's %d journal records; it continues from its checkpoint at seq %d, its next change getting seq %d",
			c.records, c.cp, c.cp+1)
	default:
		return Problem{}, false
	}
	return p, true
}

// Repair mends what Diagnose found: it removes the journal records of each
// problem canvas (the whole subject: a canvas with a gap then loads its
// checkpoint alone and continues from its seq, as a restored one does).
// A canvas whose journal changed since the diagnosis (another record
// appended), or an orphan the store now has, is left alone and keeps its
// problem: run the doctor again.
//
// Removing a subject's records is safe against a node that still writes
// it: every append is fenced on the subject's last sequence, which the
// removal changes, so a writer that had read the old journal is fenced.
func Repair(ctx context.Context, st doctorStore, j *journal.Journal, rep *DoctorReport) {
	rep.RepairRequested = true
	rep.ProblemsRemained = 0
	for i := range rep.Problems {
		p := &rep.Problems[i]
		if err := repairOne(ctx, st, j, p); err != nil {
			p.RepairError = err.Error()
			rep.ProblemsRemained++
			continue
		}
		p.Repaired = true
	}
}

func repairOne(ctx context.Context, st doctorStore, j *journal.Journal, p *Problem) error {
	last, err := j.Last(ctx, p.Canvas)
	if err != nil {
		return err
	}
	if last != p.LastStreamSeq {
		return fmt.Errorf("the journal of the canvas changed since the check (last record %d, was %d): run the doctor again", last, p.LastStreamSeq)
	}
	if p.Kind == ProblemOrphan {
		_, err := st.Canvas(ctx, p.Canvas)
		if err == nil {
			return errors.New("the store has this canvas now: run the doctor again")
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return j.Delete(ctx, p.Canvas)
}

// Doctor opens the configured node's store and journal, diagnoses them
// and, with repair, mends what it can. With the embedded NATS server it
// holds DATA_DIR as `sker serve` does, so the node must be stopped; with
// NATS_URL it may run beside the nodes (see Repair).
func Doctor(ctx context.Context, cfg config.Config, repair bool, log *slog.Logger) (DoctorReport, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	names, err := natsname.New(cfg.NatsPrefix)
	if err != nil {
		return DoctorReport{}, fmt.Errorf("app: doctor: NATS_PREFIX: %w", err)
	}
	var lock *dirlock.Lock
	if cfg.DatabaseURL == "" || cfg.NatsURL == "" {
		// The embedded store and NATS server are the node's own.
		if lock, err = dirlock.Acquire(cfg.DataDir, "sker doctor"); err != nil {
			return DoctorReport{}, fmt.Errorf("app: doctor: DATA_DIR (stop the node first): %w", err)
		}
		defer lock.Release()
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return DoctorReport{}, err
	}
	defer st.Close()
	ds, ok := st.(doctorStore)
	if !ok {
		return DoctorReport{}, fmt.Errorf("app: doctor: the store %T cannot list its checkpoints", st)
	}
	nc, stop, err := doctorNATS(ctx, cfg, log)
	if err != nil {
		return DoctorReport{}, err
	}
	defer stop()
	js, err := jetstream.New(nc)
	if err != nil {
		return DoctorReport{}, fmt.Errorf("app: doctor: jetstream: %w", err)
	}
	j, err := openJournalForDoctor(ctx, js, names)
	if err != nil && !errors.Is(err, journal.ErrNoStream) {
		return DoctorReport{}, fmt.Errorf("app: doctor: %w", err)
	}
	rep, err := diagnoseWhenAnswered(ctx, ds, j)
	if err != nil {
		return DoctorReport{}, err
	}
	rep.Store, rep.Journal = storeKind(cfg), names.JournalStream()
	if rep.Streams, err = streamHealth(ctx, js, names); err != nil {
		rep.StreamsError = err.Error()
	}
	if repair && j != nil && len(rep.Problems) > 0 {
		Repair(ctx, ds, j, &rep)
		for _, p := range rep.Problems {
			log.Info("doctor repaired canvas", "canvas_id", p.Canvas, "kind", p.Kind, "repaired", p.Repaired,
				"lost", p.Lost.String(), "err", p.RepairError)
		}
	}
	return rep, nil
}

// doctorNATS connects to NATS_URL, or starts the node's embedded server
// on its DATA_DIR (with its cluster settings: a clustered embedded node's
// doctor joins its cluster as the node would).
func doctorNATS(ctx context.Context, cfg config.Config, log *slog.Logger) (*nats.Conn, func(), error) {
	opts := []nats.Option{nats.Name("sker doctor")}
	if cfg.NatsURL != "" {
		nc, err := nats.Connect(cfg.NatsURL, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("app: doctor: connect to NATS_URL: %w", err)
		}
		return nc, nc.Close, nil
	}
	srv, err := embednats.Start(ctx, embednats.Config{
		DataDir: cfg.DataDir, ConfigFile: cfg.NatsConfig, Listen: cfg.NatsListen,
		ServerName: cfg.NodeName, ClusterListen: cfg.NatsClusterListen,
		ClusterRoutes: cfg.NatsClusterRoutes, ClusterName: cfg.NatsClusterName,
	}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("app: doctor: %w", err)
	}
	nc, err := srv.Conn(opts...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("app: doctor: connect to the embedded NATS: %w", err)
	}
	return nc, func() { nc.Close(); srv.Shutdown() }, nil
}

// WriteText writes the report for a person: every problem with what it
// loses, then a summary.
func (r DoctorReport) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s: %d canvases; journal %s: %d records of %d canvases\n",
		r.Store, r.Canvases, r.Journal, r.JournalRecords, r.JournalCanvases)
	for _, p := range r.Problems {
		switch p.Kind {
		case ProblemGap:
			fmt.Fprintf(&b, "canvas %s: CANNOT LOAD: checkpoint at seq %d, journal holds seqs %d–%d: %s in neither (lost)\n",
				p.Canvas, p.CheckpointSeq, p.JournalFirstSeq, p.JournalLastSeq, p.Missing.phrase())
			fmt.Fprintf(&b, "  repair loses seqs %s (%d changes), keeps the checkpoint at seq %d\n",
				p.Lost, p.Lost.To-p.Lost.From+1, p.CheckpointSeq)
		case ProblemOrphan:
			fmt.Fprintf(&b, "canvas %s: ORPHAN: %d journal records, no such canvas in the store\n", p.Canvas, p.Records)
			if p.Lost.To > 0 {
				fmt.Fprintf(&b, "  repair removes seqs %s\n", p.Lost)
			}
		}
		switch {
		case p.Repaired:
			fmt.Fprintf(&b, "  repaired: %s\n", p.Repair)
		case p.RepairError != "":
			fmt.Fprintf(&b, "  NOT repaired: %s\n", p.RepairError)
		default:
			fmt.Fprintf(&b, "  --repair would %s\n", p.Repair)
		}
	}
	for _, st := range r.Streams {
		fmt.Fprintln(&b, st)
	}
	if r.StreamsError != "" {
		fmt.Fprintf(&b, "streams: %s\n", r.StreamsError)
	}
	if r.Replays > 0 {
		fmt.Fprintf(&b, "%d canvases have changes beyond their checkpoint in the journal: they replay (fine)\n", r.Replays)
	}
	switch {
	case len(r.Problems) == 0:
		b.WriteString("no problems found\n")
	case r.RepairRequested:
		fmt.Fprintf(&b, "%d problems, %d repaired, %d remain\n", len(r.Problems), len(r.Problems)-r.ProblemsRemained, r.ProblemsRemained)
	default:
		fmt.Fprintf(&b, "%d problems found; nothing changed (run sker doctor --repair to repair them)\n", len(r.Problems))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// doctorJoinTimeout bounds how long the doctor waits for the journal to
// answer: a clustered embedded server it just started must first meet
// its cluster and learn the stream's leader.
const doctorJoinTimeout = 45 * time.Second

// openJournalForDoctor opens the journal, trying again while a request
// times out (a server that has not yet joined its cluster).
// diagnoseWhenAnswered is Diagnose, run again while the journal's scan
// times out, up to doctorJoinTimeout: a replicated journal answers once
// its stream has a leader, which a cluster just met elects first. It
// changes nothing, so running it again is safe.
func diagnoseWhenAnswered(ctx context.Context, st doctorStore, j *journal.Journal) (DoctorReport, error) {
	deadline := time.Now().Add(doctorJoinTimeout)
	for {
		rep, err := Diagnose(ctx, st, j)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return rep, err
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("%w (the journal's stream has had no leader for %v: start enough nodes of the cluster to hold JOURNAL_REPLICAS, or point NATS_URL at it)", err, doctorJoinTimeout)
		}
		select {
		case <-ctx.Done():
			return DoctorReport{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func openJournalForDoctor(ctx context.Context, js jetstream.JetStream, names natsname.Names) (*journal.Journal, error) {
	deadline := time.Now().Add(doctorJoinTimeout)
	for {
		j, err := journal.OpenExisting(ctx, js, journal.Config{Names: names})
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || time.Now().After(deadline) {
			return j, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
