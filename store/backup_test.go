package store_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// backend is a store that backs up, dumps and loads: both kinds.
type backend interface {
	store.Store
	store.Dumper
	store.Loader
	Backup(ctx context.Context, dir string) (store.BackupInfo, []string, error)
	CheckpointSeqs(ctx context.Context) (map[string]uint64, error)
	RowCounts(ctx context.Context) (map[string]int64, error)
}

func openSQLite(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), testkit.SQLitePath(t))
	must(t, "OpenSQLite", err)
	t.Cleanup(func() { closeStore(t, s) })
	return s
}

func openPostgres(t *testing.T) *store.Postgres {
	t.Helper()
	url := testkit.PostgresURL(t)
	_, err := store.MigratePostgres(t.Context(), url)
	must(t, "MigratePostgres", err)
	s, err := store.OpenPostgres(t.Context(), url, "")
	must(t, "OpenPostgres", err)
	t.Cleanup(func() { closeStore(t, s) })
	return s
}

// fill writes a row to every table through the Store, with the values
// that are easy to lose on the way: nanoseconds, NULL and set optional
// times, tiny floats and large integers, unicode, a revoked session. (Not
// -0: SQLite stores it as 0, and canvases hold it as 0 anyway.)
func fill(t *testing.T, s store.Store) (canvasID string) {
	t.Helper()
	ctx := t.Context()
	u := mkUser(t, s, "Zoë 🎨")
	v := mkUser(t, s, "viewer")
	must(t, "RevokeUserRefreshTokens", s.RevokeUserRefreshTokens(ctx, v.ID, base.Add(time.Hour)))
	old := refresh(u.ID, time.Hour)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old))
	must(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, old.TokenHash, refresh(u.ID, 2*time.Hour), base))
	must(t, "CreateAPIToken", s.CreateAPIToken(ctx, store.APIToken{ID: newID("at"), UserID: u.ID, Name: "ci",
		TokenHash: newID("h"), CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))}))
	must(t, "CreateAPIToken", s.CreateAPIToken(ctx, store.APIToken{ID: newID("at"), UserID: u.ID, Name: "forever",
		TokenHash: newID("h"), CreatedAt: at(0)}))
	c := mkCanvas(t, s, u.ID, time.Minute)
	must(t, "AddMember", s.AddMember(ctx, c.ID, v.ID, store.RoleViewer, base))
	n := node("n1", 0)
	n.X, n.Data = -1e-300, json.RawMessage(`{"text":"日本語 \u2028 \"q\" <b>"}`)
	must(t, "SaveCheckpoint", s.SaveCheckpoint(ctx, store.CheckpointDelta{CanvasID: c.ID, FromSeq: 0, Seq: 42,
		PutNodes: []store.Node{n, node("n2", time.Second)}, PutEdges: []store.Edge{edge("e1", "n1", "n2")}, At: at(time.Hour),
		PutComments: []store.Comment{{ID: "c1", AuthorID: v.ID, Seq: 40, Mentions: []string{u.ID},
			Body: json.RawMessage(`{"id":"c1","node":"n1","x":0,"y":0,"text":"日本語 <b>","author":"` + v.ID + `"}`)}}}))
	must(t, "MarkCommentsRead", s.MarkCommentsRead(ctx, c.ID, u.ID, 39))
	mkCanvas(t, s, u.ID, 0) // never checkpointed
	must(t, "RecordAIRun", s.RecordAIRun(ctx, store.AIRun{ID: newID("run"), UserID: u.ID, CanvasID: c.ID, NodeID: "n1",
		Provider: "openai", Model: "m", InputTokens: 1 << 40, OutputTokens: 2, Duration: time.Second, Outcome: "done", CreatedAt: base}))
	return c.ID
}

// dumpOf is the store's dump, uncompressed.
func dumpOf(t *testing.T, s store.Dumper) (string, store.BackupInfo) {
	t.Helper()
	var b bytes.Buffer
	info, err := s.Dump(t.Context(), &b)
	must(t, "Dump", err)
	return b.String(), info
}

// TestDumpLoadRoundTrip: a dump loaded into an empty store of either kind
// gives a store whose dump is the same, byte for byte, and whose reads
// give what the original's give.
func TestDumpLoadRoundTrip(t *testing.T) {
	kinds := map[string]func(t *testing.T) backend{
		"sqlite":   func(t *testing.T) backend { return openSQLite(t) },
		"postgres": func(t *testing.T) backend { return openPostgres(t) },
	}
	for _, from := range []string{"sqlite", "postgres"} {
		for _, to := range []string{"sqlite", "postgres"} {
			t.Run(from+"_to_"+to, func(t *testing.T) {
				src := kinds[from](t)
				canvasID := fill(t, src)
				want, wantInfo := dumpOf(t, src)
				dst := kinds[to](t)
				info, err := dst.Load(t.Context(), strings.NewReader(want))
				must(t, "Load", err)
				got, _ := dumpOf(t, dst)
				if got != want {
					t.Errorf("dump after load differs:\ngot  %s\nwant %s", got, want)
				}
				if fmt.Sprint(info.Canvases) != fmt.Sprint(wantInfo.Canvases) || info.Rows != wantInfo.Rows || info.Rows < 10 {
					t.Errorf("Load info: got %+v; want %+v (at least 10 rows)", info, wantInfo)
				}
				if info.Canvases[canvasID] != 42 {
					t.Errorf("Load info: canvas seq %d; want 42", info.Canvases[canvasID])
				}
				sameCheckpoint(t, "LoadCheckpoint after load", load(t, dst, canvasID), load(t, src, canvasID))
				gotC, err := dst.Canvas(t.Context(), canvasID)
				must(t, "Canvas", err)
				wantC, _ := src.Canvas(t.Context(), canvasID)
				equal(t, "Canvas after load", gotC, wantC)
				gotM, _ := dst.Members(t.Context(), canvasID)
				wantM, _ := src.Members(t.Context(), canvasID)
				equal(t, "Members after load", gotM, wantM)
			})
		}
	}
}

// TestLoadRefuses: a store with rows, a dump without its trailer, a
// corrupt row or a newer schema are refused, and a refused load leaves
// the store as it was: empty.
func TestLoadRefuses(t *testing.T) {
	src := openSQLite(t)
	fill(t, src)
	good, _ := dumpOf(t, src)

	full := openSQLite(t)
	mkUser(t, full, "already")
	if _, err := full.Load(t.Context(), strings.NewReader(good)); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Load into a store with a user: got %v; want ErrNotEmpty", err)
	}

	lines := strings.SplitAfter(strings.TrimSuffix(good, "\n"), "\n")
	newer := strings.Replace(good, `"schema_version":`, `"schema_version":9`, 1)
	corrupt := strings.Replace(good, `"Zoë 🎨"`, `17`, 1)
	for name, dump := range map[string]string{
		"without its trailer": strings.Join(lines[:len(lines)-1], ""),
		"cut in a row":        good[:len(good)/2],
		"with a wrong count":  strings.Join(lines[:len(lines)-1], "") + `{"end":true,"rows":3}` + "\n",
		"with a corrupt row":  corrupt,
		"of a newer schema":   newer,
		"with an extra table": strings.Replace(good, `{"table":"ai_runs"`, `{"table":"no_such_table","columns":[]}`+"\n"+`{"table":"ai_runs"`, 1),
		"not a dump":          "hello\n",
	} {
		dst := openSQLite(t)
		if _, err := dst.Load(t.Context(), strings.NewReader(dump)); err == nil {
			t.Errorf("Load of a dump %s: got nil error; want one", name)
		}
		counts, err := dst.RowCounts(t.Context())
		must(t, "RowCounts", err)
		for table, n := range counts {
			if n != 0 {
				t.Errorf("Load of a dump %s: %s has %d rows after; want 0 (nothing loaded)", name, table, n)
			}
		}
	}
}

// TestBackupWhileWriting: a backup of either kind taken while checkpoints
// are written holds, for each canvas, one checkpoint as it was saved,
// never half of one, and restores into a store that serves it.
func TestBackupWhileWriting(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) backend{
		"sqlite":   func(t *testing.T) backend { return openSQLite(t) },
		"postgres": func(t *testing.T) backend { return openPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t)
			u := mkUser(t, s, "writer")
			canvases := make([]store.Canvas, 3)
			for i := range canvases {
				canvases[i] = mkCanvas(t, s, u.ID, 0)
			}
			// Each checkpoint seq k writes k nodes, each with k in its data.
			var stop atomic.Bool
			var wg sync.WaitGroup
			for _, c := range canvases {
				wg.Go(func() {
					for seq := uint64(1); !stop.Load(); seq++ {
						d := store.CheckpointDelta{CanvasID: c.ID, FromSeq: seq - 1, Seq: seq, At: at(0)}
						for i := range seq {
							n := node(fmt.Sprintf("n%03d", i), 0)
							n.Data = json.RawMessage(fmt.Sprintf(`{"seq":%d}`, seq))
							d.PutNodes = append(d.PutNodes, n)
						}
						if err := s.SaveCheckpoint(ctx, d); err != nil {
							t.Errorf("SaveCheckpoint %d: %v", seq, err)
							return
						}
					}
				})
			}
			// Every writer has saved at least once, however slow the
			// machine, and the backup then runs while they go on.
			for _, c := range canvases {
				for deadline := time.Now().Add(10 * time.Second); load(t, s, c.ID).Seq == 0; {
					if time.Now().After(deadline) {
						t.Fatalf("canvas %s: no checkpoint saved within 10s", c.ID)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			time.Sleep(20 * time.Millisecond)
			dir := t.TempDir()
			info, files, err := s.Backup(ctx, dir)
			stop.Store(true)
			wg.Wait()
			must(t, "Backup", err)
			if len(files) != 1 || len(info.Canvases) != 3 || info.SchemaVersion < 3 {
				t.Fatalf("Backup: got files %v, info %+v; want one file, 3 canvases, schema >= 3", files, info)
			}
			restored := openSQLite(t)
			if name == "sqlite" {
				path := filepath.Join(t.TempDir(), "restored.db")
				_, err := store.RestoreSQLiteFile(ctx, filepath.Join(dir, files[0]), path)
				must(t, "RestoreSQLiteFile", err)
				restored, err = store.OpenSQLite(ctx, path)
				must(t, "OpenSQLite of the restored file", err)
				t.Cleanup(func() { closeStore(t, restored) })
			} else {
				_, err := store.ReadDump(ctx, restored, filepath.Join(dir, files[0]))
				must(t, "ReadDump", err)
			}
			for _, c := range canvases {
				seq := info.Canvases[c.ID]
				cp := load(t, restored, c.ID)
				if seq == 0 || cp.Seq != seq || uint64(len(cp.Nodes)) != seq {
					t.Errorf("canvas %s: backup says seq %d; restored seq %d with %d nodes; want that seq (> 0) and as many nodes",
						c.ID, seq, cp.Seq, len(cp.Nodes))
					continue
				}
				for _, n := range cp.Nodes {
					if want := fmt.Sprintf(`{"seq":%d}`, seq); string(n.Data) != want {
						t.Errorf("canvas %s seq %d: node %s has %s; want %s (one checkpoint, whole)", c.ID, seq, n.ID, n.Data, want)
						break
					}
				}
			}
		})
	}
}

// TestRestoreSQLiteFileRefusesExisting: a restore never overwrites a
// database file.
func TestRestoreSQLiteFileRefusesExisting(t *testing.T) {
	s := openSQLite(t)
	fill(t, s)
	dir := t.TempDir()
	_, files, err := s.Backup(t.Context(), dir)
	must(t, "Backup", err)
	dst := filepath.Join(t.TempDir(), "sker.db")
	must(t, "write", os.WriteFile(dst, []byte("mine"), 0o600))
	if _, err := store.RestoreSQLiteFile(t.Context(), filepath.Join(dir, files[0]), dst); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("RestoreSQLiteFile onto a file: got %v; want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "mine" {
		t.Errorf("the file after a refused restore: got %q; want it unchanged", b)
	}
}

// TestReadDumpChecksTheChecksum: a dump whose compressed bytes were
// changed loads nothing.
func TestReadDumpChecksTheChecksum(t *testing.T) {
	s := openPostgres(t)
	fill(t, s)
	dir := t.TempDir()
	_, files, err := s.Backup(t.Context(), dir)
	must(t, "Backup", err)
	path := filepath.Join(dir, files[0])
	b, err := os.ReadFile(path)
	must(t, "read", err)
	// The last 8 bytes are the CRC and the length: change the CRC.
	b[len(b)-8] ^= 0xff
	must(t, "write", os.WriteFile(path, b, 0o600))
	dst := openSQLite(t)
	if _, err := store.ReadDump(t.Context(), dst, path); !errors.Is(err, gzip.ErrChecksum) {
		t.Errorf("ReadDump of a corrupt file: got %v; want gzip.ErrChecksum", err)
	}
	counts, _ := dst.RowCounts(t.Context())
	if counts["users"] != 0 {
		t.Errorf("users after a refused load: %d; want 0", counts["users"])
	}
}

// TestCheckpointSeqs lists every canvas, never-checkpointed ones at 0.
func TestCheckpointSeqs(t *testing.T) {
	s := openSQLite(t)
	canvasID := fill(t, s)
	seqs, err := s.CheckpointSeqs(t.Context())
	must(t, "CheckpointSeqs", err)
	if len(seqs) != 2 || seqs[canvasID] != 42 {
		t.Fatalf("CheckpointSeqs: got %v; want 2 canvases, %s at 42", seqs, canvasID)
	}
	for id, seq := range seqs {
		if id != canvasID && seq != 0 {
			t.Errorf("CheckpointSeqs: never checkpointed %s at %d; want 0", id, seq)
		}
	}
}

// TestDumpKeepsVersions: a PostgreSQL backup holds the kept versions of
// a canvas, their states byte for byte, and a restore serves them.
func TestDumpKeepsVersions(t *testing.T) {
	ctx := t.Context()
	s := openPostgres(t)
	u := mkUser(t, s, "historian")
	c := mkCanvas(t, s, u.ID, 0)
	state := []byte("{\"nodes\":[]}\x00\xff\xfe not text")
	v := store.Version{CanvasID: c.ID, Seq: 7, Kind: store.VersionNamed, Name: "Tuesday", CreatedBy: u.ID,
		CreatedAt: at(0), Authors: []string{u.ID}, State: state}
	must(t, "SaveVersion", s.SaveVersion(ctx, v))
	dir := t.TempDir()
	_, files, err := s.Backup(ctx, dir)
	must(t, "Backup", err)
	restored := openSQLite(t)
	_, err = store.ReadDump(ctx, restored, filepath.Join(dir, files[0]))
	must(t, "ReadDump", err)
	got, err := restored.VersionAtOrBefore(ctx, c.ID, 100)
	must(t, "VersionAtOrBefore", err)
	if got.Seq != 7 || got.Kind != store.VersionNamed || got.Name != "Tuesday" || string(got.State) != string(state) ||
		len(got.Authors) != 1 || got.Authors[0] != u.ID || !got.CreatedAt.Equal(v.CreatedAt) {
		t.Errorf("restored version %+v; want %+v", got, v)
	}
}
