package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
)

// bigPayloadServer is a NATS server whose max payload is small.
func bigPayloadServer(t *testing.T, maxPayload int32) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, MaxPayload: maxPayload,
		StoreDir: filepath.Join(t.TempDir(), "js"), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready in 10s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func TestRouterReplyOverMaxPayload(t *testing.T) {
	ns := bigPayloadServer(t, 8<<10)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	testRouter(t, ns, "node-b", memB, live, nil)
	g := testRouter(t, ns, "node-g", nil, live, nil)
	ctx := t.Context()
	text := json.RawMessage(`"` + strings.Repeat("x", 1000) + `"`)
	for i := range 100 {
		memB.Submit(ctx, "big", "ann", "", []canvas.Op{{Op: "add_node", ID: fmt.Sprint(i), Data: map[string]json.RawMessage{"t": text}}})
	}
	ex, err := g.Snapshot(ctx, "big")
	want, _ := memB.Snapshot(ctx, "big")
	if err != nil || !reflect.DeepEqual(ex, want) {
		t.Fatalf("Snapshot of %d nodes: %d nodes, %v; want them all", len(want.Nodes), len(ex.Nodes), err)
	}
	bs, _, err := g.History(ctx, "big", 0, 0)
	wantBS, _, _ := memB.History(ctx, "big", 0, 0)
	if err != nil || !reflect.DeepEqual(bs, wantBS) {
		t.Fatalf("History: %d batches, %v; want %d", len(bs), err, len(wantBS))
	}
	_, err = g.Submit(ctx, "big", "ann", "", []canvas.Op{{Op: "add_node", ID: "huge", Data: map[string]json.RawMessage{"t": json.RawMessage(`"` + strings.Repeat("y", 9<<10) + `"`)}}})
	if err == nil || !strings.Contains(err.Error(), "max payload") || errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("Submit over max payload: %v; want an error that names the max payload", err)
	}
}
