package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/skerhq/sker/testkit"
)

// Shape of the backup tests.
const (
	bkCanvases = 2
	bkWriters  = 4 // writer k sets data.v of node w<k> on canvas k % bkCanvases
	bkBefore   = 700 * time.Millisecond
	bkAfter    = 300 * time.Millisecond
)

// bkAck is one acknowledged batch of a writer.
type bkAck struct {
	counter int
	seq     uint64
	at      time.Time // when the acknowledgement arrived
}

// bkWriter is one writer's acknowledged batches, in order.
type bkWriter struct {
	k      int
	canvas string
	acks   []bkAck
	err    error
}

// lastBefore is the counter of the writer's last batch acknowledged
// before t (0: none).
func (w *bkWriter) lastBefore(t time.Time) (int, uint64) {
	c, s := 0, uint64(0)
	for _, a := range w.acks {
		if a.at.Before(t) {
			c, s = a.counter, a.seq
		}
	}
	return c, s
}

// valueAt is what data.v of the writer's node is at canvas seq: the
// counter of its last batch at or below seq (every batch was acknowledged,
// so every seq is known).
func (w *bkWriter) valueAt(seq uint64) int {
	v := 0
	for _, a := range w.acks {
		if a.seq <= seq {
			v = a.counter
		}
	}
	return v
}

// runBkWriter sets data.v of node w<k> to 1, 2, 3 … one batch at a time
// until stop is set; every batch must be acknowledged.
func runBkWriter(ctx context.Context, c *Client, w *bkWriter, stop *atomic.Bool) {
	node := "w" + strconv.Itoa(w.k)
	for n := 1; !stop.Load(); n++ {
		seq, err := c.PostOps(ctx, w.canvas, fmt.Sprintf("%s-%d", node, n),
			Op{Op: "node.update", ID: node, Set: map[string]any{"data.v": n}})
		if err != nil {
			w.err = err
			return
		}
		w.acks = append(w.acks, bkAck{counter: n, seq: seq, at: time.Now()})
	}
}

// bkSetup registers a user and creates the canvases with one node per
// writer.
func bkSetup(t *testing.T, s *Sker) (*Client, []string) {
	t.Helper()
	ctx := t.Context()
	c := s.NewClient()
	_, err := c.Register(ctx, "ops@example.com", "backup-password", "Ops")
	noErr(t, err)
	ids := make([]string, bkCanvases)
	for i := range ids {
		cv, err := c.CreateCanvas(ctx, fmt.Sprintf("Backed up %d", i))
		noErr(t, err)
		ids[i] = cv.ID
	}
	for k := range bkWriters {
		_, err := c.PostOps(ctx, ids[k%bkCanvases], "add-w"+strconv.Itoa(k),
			Op{Op: "node.add", ID: "w" + strconv.Itoa(k), Kind: "text", X: F(0), Y: F(float64(k)), Data: map[string]any{"v": 0}})
		noErr(t, err)
	}
	return c, ids
}

// bkManifest is what the tests read of a backup's manifest.
type bkManifest struct {
	Store        string            `json:"store"`
	Canvases     map[string]uint64 `json:"canvases"`
	Checkpointed int               `json:"checkpointed"`
}

func readBkManifest(t *testing.T, dir string) bkManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	noErr(t, err)
	var m bkManifest
	noErr(t, json.Unmarshal(b, &m))
	return m
}

// bkValues reads data.v of every writer's node and the canvases' seqs.
func bkValues(t *testing.T, c *Client, ids []string) (map[int]int, map[string]uint64) {
	t.Helper()
	values, seqs := map[int]int{}, map[string]uint64{}
	for _, id := range ids {
		cv, err := c.GetCanvas(t.Context(), id)
		noErr(t, err)
		if cv.Seq == nil {
			t.Fatalf("GET canvas %s: no seq", id)
		}
		seqs[id] = *cv.Seq
		for _, n := range cv.Nodes {
			k, err := strconv.Atoi(strings.TrimPrefix(n.ID, "w"))
			if err != nil {
				continue
			}
			var v int
			if err := json.Unmarshal(n.Data["v"], &v); err != nil {
				t.Errorf("canvas %s node %s: data.v %s: %v", id, n.ID, n.Data["v"], err)
			}
			values[k] = v
		}
	}
	return values, seqs
}

// TestBackupWhileWriting: `sker backup` of a node that serves writers
// holds every change acknowledged before it started; `sker restore` of it
// onto a new data folder (and a new PostgreSQL database) gives a node that
// serves each canvas exactly at the seq the manifest names, continues it
// at the next seq, and answers a client rejoining with that seq exactly.
// A restore onto a folder or a database with data is refused.
func TestBackupWhileWriting(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { backupWhileWriting(t, "", "") })
	t.Run("postgres", func(t *testing.T) {
		backupWhileWriting(t, testkit.PostgresURL(t), testkit.PostgresURL(t))
	})
}

func backupWhileWriting(t *testing.T, dbURL, restoreURL string) {
	ctx := t.Context()
	s := NewSker(t, Options{DatabaseURL: dbURL})
	if dbURL != "" {
		if res := s.Run("migrate"); res.Code != 0 {
			t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
		}
	}
	s.Start()
	c, ids := bkSetup(t, s)

	writers := make([]*bkWriter, bkWriters)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for k := range writers {
		writers[k] = &bkWriter{k: k, canvas: ids[k%bkCanvases]}
		wg.Go(func() { runBkWriter(ctx, c, writers[k], &stop) })
	}
	time.Sleep(bkBefore)
	out := filepath.Join(t.TempDir(), "backup")
	started := time.Now()
	res := s.Run("backup", "--server", s.URL(), "--out", out)
	time.Sleep(bkAfter)
	stop.Store(true)
	wg.Wait()
	if res.Code != 0 {
		t.Fatalf("sker backup: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	t.Logf("sker backup: %s", strings.TrimSpace(res.Stdout))
	for _, w := range writers {
		if w.err != nil {
			t.Fatalf("writer %d: %v", w.k, w.err)
		}
		if before, _ := w.lastBefore(started); before < 5 {
			t.Fatalf("writer %d: %d batches acknowledged before the backup; want at least 5 to test anything", w.k, before)
		}
	}
	m := readBkManifest(t, out)
	if len(m.Canvases) != bkCanvases || m.Checkpointed == 0 {
		t.Errorf("manifest: %d canvases, %d checkpointed for the backup; want %d, and at least 1 (the writers' changes were only in the journal)",
			len(m.Canvases), m.Checkpointed, bkCanvases)
	}

	r := NewSker(t, Options{DatabaseURL: restoreURL})
	if res := r.Run("restore", "--from", out); res.Code != 0 {
		t.Fatalf("sker restore: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	r.Start()
	rc := r.NewClient()
	_, err := rc.Login(ctx, "ops@example.com", "backup-password")
	noErr(t, err)
	values, seqs := bkValues(t, rc, ids)
	for _, w := range writers {
		before, beforeSeq := w.lastBefore(started)
		seq := seqs[w.canvas]
		if values[w.k] < before {
			t.Errorf("writer %d: restored data.v = %d; want at least %d, acknowledged (seq %d) before the backup started: an acknowledged change was lost",
				w.k, values[w.k], before, beforeSeq)
		}
		if want := w.valueAt(seq); values[w.k] != want {
			t.Errorf("writer %d: restored canvas at seq %d has data.v = %d; want %d, its value at that seq", w.k, seq, values[w.k], want)
		}
	}
	for _, id := range ids {
		if seqs[id] != m.Canvases[id] {
			t.Errorf("canvas %s: restored at seq %d; the manifest says %d", id, seqs[id], m.Canvases[id])
		}
	}
	if t.Failed() {
		return
	}

	// A client that saw the canvas at the backup's seq rejoins: exactly
	// nothing to catch up. One from before gets a snapshot (the new
	// journal has no history).
	id := ids[0]
	n := seqs[id]
	if j := bkJoin(t, r, rc.Token, id, n); j.seq != n || j.snapshot || len(j.batches) != 0 {
		t.Errorf("join since %d after restore: got seq %d, snapshot %v, %d batches; want seq %d, no snapshot, no batches",
			n, j.seq, j.snapshot, len(j.batches), n)
	}
	if j := bkJoin(t, r, rc.Token, id, n-1); j.seq != n || !j.snapshot {
		t.Errorf("join since %d after restore: got seq %d, snapshot %v; want seq %d with a snapshot", n-1, j.seq, j.snapshot, n)
	}
	for i := range 3 {
		seq, err := rc.PostOps(ctx, id, fmt.Sprintf("after-restore-%d", i), Op{Op: "node.update", ID: "w0", Set: map[string]any{"data.v": -1 - i}})
		noErr(t, err)
		if seq != n+1+uint64(i) {
			t.Errorf("write %d after restore: got seq %d; want %d", i, seq, n+1+uint64(i))
		}
	}
	if j := bkJoin(t, r, rc.Token, id, n); j.seq != n+3 || j.snapshot || fmt.Sprint(j.batches) != fmt.Sprint([]uint64{n + 1, n + 2, n + 3}) {
		t.Errorf("join since %d after 3 writes: got seq %d, snapshot %v, batches %v; want seq %d, the batches %d..%d",
			n, j.seq, j.snapshot, j.batches, n+3, n+1, n+3)
	}
	// Through a restart, the new writes stay (the restored node's journal
	// and checkpoints work as any node's).
	r.Stop()
	r.Start()
	if cv, err := rc.GetCanvas(ctx, id); err != nil || cv.Seq == nil || *cv.Seq != n+3 {
		t.Errorf("after a restart of the restored node: got %+v, %v; want seq %d", cv.Seq, err, n+3)
	}

	// A second restore onto the node, now with data, is refused.
	r.Stop()
	if res := r.Run("restore", "--from", out); res.Code == 0 || !strings.Contains(res.Stderr, "not empty") {
		t.Errorf("restore onto a used DATA_DIR: code %d, stderr %q; want a failure saying it is not empty", res.Code, res.Stderr)
	}
	if restoreURL != "" {
		other := NewSker(t, Options{DatabaseURL: restoreURL}) // a new DATA_DIR, the used database
		res := other.Run("restore", "--from", out)
		if res.Code == 0 || !strings.Contains(res.Stderr, "the database at DATABASE_URL holds") {
			t.Errorf("restore onto a used database: code %d, stderr %q; want a failure naming the database", res.Code, res.Stderr)
		}
		if entries, _ := os.ReadDir(other.DataDir); len(entries) != 0 {
			t.Errorf("DATA_DIR after a refused restore: holds %d entries; want none", len(entries))
		}
	}
}

// TestBackupAfterCrash: changes acknowledged before a kill -9 live only in
// the journal of canvases nobody has opened since the restart; a backup
// then still holds them, and so does the node restored from it.
func TestBackupAfterCrash(t *testing.T) {
	ctx := t.Context()
	s := StartSker(t, Options{})
	c, ids := bkSetup(t, s)
	last := map[int]int{}
	for n := 1; n <= 20; n++ {
		for k := range bkWriters {
			_, err := c.PostOps(ctx, ids[k%bkCanvases], fmt.Sprintf("w%d-%d", k, n),
				Op{Op: "node.update", ID: "w" + strconv.Itoa(k), Set: map[string]any{"data.v": n}})
			noErr(t, err)
			last[k] = n
		}
	}
	s.Kill()
	s.Start()
	out := filepath.Join(t.TempDir(), "backup")
	res := s.Run("backup", "--server", s.URL(), "--out", out)
	if res.Code != 0 {
		t.Fatalf("sker backup: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	if m := readBkManifest(t, out); m.Checkpointed != bkCanvases {
		t.Errorf("manifest: %d canvases checkpointed for the backup; want %d (both had changes only in the journal)", m.Checkpointed, bkCanvases)
	}
	s.Stop()

	r := NewSker(t, Options{})
	if res := r.Run("restore", "--from", out); res.Code != 0 {
		t.Fatalf("sker restore: code %d\nstdout %s\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	r.Start()
	rc := r.NewClient()
	_, err := rc.Login(ctx, "ops@example.com", "backup-password")
	noErr(t, err)
	values, _ := bkValues(t, rc, ids)
	for k, want := range last {
		if values[k] != want {
			t.Errorf("writer %d: restored data.v = %d; want %d, acknowledged before the crash", k, values[k], want)
		}
	}
}

// TestBackupRefusals: the ops route is not there for a client that is not
// on loopback (it answers as an unknown route), a backup never writes
// into a folder with something in it, and the CLI says when no server
// answers.
func TestBackupRefusals(t *testing.T) {
	s := StartSker(t, Options{Env: map[string]string{"OPS_TOKEN": "ops-token-0123456789"}})
	full := t.TempDir()
	noErr(t, os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o600))
	res := s.Run("backup", "--server", s.URL(), "--out", full, "--ops-token", "wrong-token-0123456789")
	if res.Code == 0 || !strings.Contains(res.Stderr, "404") {
		t.Errorf("backup with a wrong OPS_TOKEN: code %d, stderr %q; want a failure with 404", res.Code, res.Stderr)
	}
	res = s.Run("backup", "--server", s.URL(), "--out", full)
	if res.Code == 0 || !strings.Contains(res.Stderr, "not empty") {
		t.Errorf("backup into a folder with a file: code %d, stderr %q; want a failure saying it is not empty", res.Code, res.Stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep")); string(b) != "mine" {
		t.Errorf("the folder's file after a refused backup: %q; want it unchanged", b)
	}
	res = s.Run("backup", "--server", s.URL())
	if res.Code != 0 || !strings.Contains(res.Stdout, filepath.Join(s.DataDir, "backups", "sker-backup-")) {
		t.Errorf("backup without --out: code %d, stdout %q, stderr %q; want a folder in DATA_DIR/backups", res.Code, res.Stdout, res.Stderr)
	}
	s.Stop()
	res = s.Run("backup", "--server", s.URL())
	if res.Code == 0 || !strings.Contains(res.Stderr, "no server answers") {
		t.Errorf("backup with no server: code %d, stderr %q; want a failure saying no server answers", res.Code, res.Stderr)
	}
}

// bkJoined is what a join answered.
type bkJoined struct {
	seq      uint64
	snapshot bool
	batches  []uint64
}

// bkJoin opens a WebSocket, joins canvas with since and returns the
// joined frame and the seqs of the batches of the changes frames that
// follow within a moment.
func bkJoin(t *testing.T, s *Sker, token, canvas string, since uint64) bkJoined {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/ws?token=" + token
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL, nil)
	noErr(t, err)
	defer conn.Close()
	join, _ := json.Marshal(map[string]any{"type": "join", "canvas": canvas, "since": since})
	noErr(t, conn.WriteMessage(websocket.TextMessage, join))
	var out bkJoined
	joined := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		if joined {
			deadline = time.Now().Add(300 * time.Millisecond) // what follows comes at once
		}
		_ = conn.SetReadDeadline(deadline)
		_, raw, err := conn.ReadMessage()
		if err != nil {
			if !joined {
				t.Fatalf("join %s since %d: no joined frame: %v", canvas, since, err)
			}
			return out
		}
		var f struct {
			Type     string          `json:"type"`
			Seq      uint64          `json:"seq"`
			Snapshot json.RawMessage `json:"snapshot"`
			Batches  []struct {
				Seq uint64 `json:"seq"`
			} `json:"batches"`
		}
		noErr(t, json.Unmarshal(raw, &f))
		switch f.Type {
		case "joined":
			joined, out.seq, out.snapshot = true, f.Seq, len(f.Snapshot) > 0 && string(f.Snapshot) != "null"
		case "changes":
			for _, b := range f.Batches {
				out.batches = append(out.batches, b.Seq)
			}
		case "error":
			t.Fatalf("join %s since %d: %s", canvas, since, raw)
		}
	}
}

// TestScheduledBackups: with BACKUP_INTERVAL the node writes backups into
// BACKUP_DIR on its own, and one of them restores with the changes made
// before it.
func TestScheduledBackups(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "scheduled")
	s := StartSker(t, Options{Env: map[string]string{"BACKUP_INTERVAL": "10s", "BACKUP_DIR": dir}})
	c, ids := bkSetup(t, s)
	_, err := c.PostOps(ctx, ids[0], "before", Op{Op: "node.update", ID: "w0", Set: map[string]any{"data.v": 7}})
	noErr(t, err)
	var backup string
	deadline := time.Now().Add(40 * time.Second)
	for backup == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled backup in %s after 40s", dir)
		}
		time.Sleep(200 * time.Millisecond)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "manifest.json")); err == nil && strings.HasPrefix(e.Name(), "sker-backup-") {
				backup = filepath.Join(dir, e.Name())
			}
		}
	}
	s.Stop()
	r := NewSker(t, Options{})
	if res := r.Run("restore", "--from", backup); res.Code != 0 {
		t.Fatalf("sker restore %s: code %d, stderr %s", backup, res.Code, res.Stderr)
	}
	r.Start()
	rc := r.NewClient()
	_, err = rc.Login(ctx, "ops@example.com", "backup-password")
	noErr(t, err)
	if values, _ := bkValues(t, rc, ids); values[0] != 7 {
		t.Errorf("restored data.v of w0: %d; want 7, written before the scheduled backup", values[0])
	}
}
