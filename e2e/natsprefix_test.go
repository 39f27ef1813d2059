package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestNATSPrefixNamesTheJournal: with NATS_PREFIX set, the binary keeps
// its journal and AI queue in streams of that prefix (and none of the
// default), and a change made through the REST API reaches a WebSocket
// client, so the canvas actors and the gateway agree on the fanout
// subject. Restarted on the same DATA_DIR with the default prefix after a
// graceful stop, it serves the canvas from its checkpoint.
func TestNATSPrefixNamesTheJournal(t *testing.T) {
	env := map[string]string{"NATS_PREFIX": "team_b"}
	s := StartSker(t, Options{Env: env})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ann := s.NewClient()
	sess, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Plan")
	noErr(t, err)

	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(s.URL(), "http")+"/ws?token="+sess.AccessToken, nil)
	noErr(t, err)
	defer conn.Close()
	noErr(t, conn.WriteJSON(map[string]any{"type": "join", "canvas": cv.ID}))
	readUntil(t, conn, "joined", 0)
	seq, err := ann.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "n1", Kind: "note"})
	noErr(t, err)
	readUntil(t, conn, "changes", seq)

	if got := streams(t, s.DataDir); !slices.Contains(got, "TEAM_B_JOURNAL") || !slices.Contains(got, "TEAM_B_AI") || slices.Contains(got, "SKER_JOURNAL") {
		t.Fatalf("streams in DATA_DIR with NATS_PREFIX=team_b: got %q; want TEAM_B_JOURNAL and TEAM_B_AI, no SKER_JOURNAL", got)
	}

	s.Stop()
	env["NATS_PREFIX"] = "" // the default
	s.Start()
	got, err := ann.GetCanvas(ctx, cv.ID)
	noErr(t, err)
	if len(got.Nodes) != 1 || got.Nodes[0].ID != "n1" {
		t.Fatalf("canvas after a restart with the default prefix: got nodes %+v; want n1 from the checkpoint", got.Nodes)
	}
	if got := streams(t, s.DataDir); !slices.Contains(got, "SKER_JOURNAL") || !slices.Contains(got, "TEAM_B_JOURNAL") {
		t.Fatalf("streams after the restart: got %q; want SKER_JOURNAL beside TEAM_B_JOURNAL, left in place", got)
	}
}

// readUntil reads frames until one of type typ (with a batch of seq, for
// changes), failing on an error frame.
func readUntil(t *testing.T, conn *websocket.Conn, typ string, seq uint64) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f struct {
			Type    string `json:"type"`
			Batches []struct {
				Seq uint64 `json:"seq"`
			} `json:"batches"`
		}
		_ = json.Unmarshal(data, &f)
		if f.Type == "error" {
			t.Fatalf("waiting for %s: got %s", typ, data)
		}
		if f.Type != typ {
			continue
		}
		if typ != "changes" {
			return
		}
		for _, b := range f.Batches {
			if b.Seq == seq {
				return
			}
		}
	}
}

// streams lists the JetStream streams the embedded server keeps in
// dataDir (DATA_DIR/jetstream/<account>/streams/<name>).
func streams(t *testing.T, dataDir string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dataDir, "jetstream", "*", "streams", "*"))
	noErr(t, err)
	var out []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, filepath.Base(d))
		}
	}
	return out
}
