package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/skerhq/sker/testkit"
)

// bridgeOpsToken is OPS_TOKEN in the bridge cluster test: GET /bridge
// answers only with it.
const bridgeOpsToken = "bridge-ops-token-0123456789"

// bridgeView is what the test reads of GET /bridge.
type bridgeView struct {
	Node      string `json:"node"`
	Connected bool   `json:"connected"`
	Commands  bridgeMappingView
	Events    bridgeMappingView
}

type bridgeMappingView struct {
	Enabled      bool      `json:"enabled"`
	Disabled     string    `json:"disabled"`
	Connected    bool      `json:"connected"`
	Consuming    bool      `json:"consuming"`
	LastMoved    time.Time `json:"last_moved"`
	Lag          int64     `json:"lag"`
	DeadLettered uint64    `json:"dead_lettered"`
	Reconnects   uint64    `json:"reconnects"`
	Lease        *struct {
		Held      bool   `json:"held"`
		Holder    string `json:"holder"`
		Takeovers uint64 `json:"takeovers"`
	} `json:"lease"`
}

// getBridge is GET /bridge on s with the ops token (none when empty); ok
// is false when s does not answer 200.
func getBridge(t *testing.T, s *Sker, token string) (int, bridgeView) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/bridge", nil)
	noErr(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP().Do(req)
	if err != nil {
		return 0, bridgeView{}
	}
	defer resp.Body.Close()
	var v bridgeView
	if resp.StatusCode == http.StatusOK {
		noErr(t, json.NewDecoder(resp.Body).Decode(&v))
	}
	return resp.StatusCode, v
}

// eventsHolders asks every running node of nodes for GET /bridge and
// returns the names of those that hold the events lease and publish, and
// the holder each of the others names.
func eventsHolders(t *testing.T, nodes []*Sker) (holders []string, named map[string]string) {
	t.Helper()
	named = map[string]string{}
	for _, s := range nodes {
		if !s.Running() {
			continue
		}
		code, v := getBridge(t, s, bridgeOpsToken)
		if code != http.StatusOK || !v.Events.Enabled || v.Events.Lease == nil {
			continue
		}
		if v.Events.Lease.Held && v.Events.Consuming {
			holders = append(holders, v.Node)
		}
		named[v.Node] = v.Events.Lease.Holder
	}
	return holders, named
}

// waitOneHolder polls until exactly one node holds the events lease and
// every other bridge node names it, and returns its index in nodes.
func waitOneHolder(t *testing.T, nodes []*Sker, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		holders, named := eventsHolders(t, nodes)
		if len(holders) > 1 {
			t.Fatalf("GET /bridge: %v all hold the events lease; want one", holders)
		}
		if len(holders) == 1 {
			agree := true
			for _, h := range named {
				agree = agree && h == holders[0]
			}
			if agree {
				var i int
				_, err := fmt.Sscanf(holders[0], "node-%d", &i)
				noErr(t, err)
				return i - 1
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /bridge: holders %v, named %v after %v; want one holder that every bridge node names", holders, named, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBridgeClusterEventsOnOneNode: three clustered nodes with
// RABBITMQ_URL, the journal at three copies. Exactly one node publishes
// the events (GET /bridge says which, on every node); the others stand by
// and are ready. While writers change canvases owned across the nodes:
// the holder drained with SIGTERM hands over at once; started again
// without the bridge role, it runs no bridge; the next holder killed with
// SIGKILL is replaced within the lease TTL and some slack. A consumer of
// the events exchange gets every committed batch of every canvas, first
// in seq order with none missing; duplicates are counted.
func TestBridgeClusterEventsOnOneNode(t *testing.T) {
	_, base, queue, dead, exchange, deliveries := bridgeTopology(t)
	consumer := "bridge-" + strings.ReplaceAll(base, ".", "-")
	events := newClusterEvents(deliveries)

	nodes := startCluster(t, 3, 3,
		"RABBITMQ_URL", testkit.RabbitMQURL(t), "BRIDGE_COMMANDS_QUEUE", queue, "BRIDGE_DEAD_LETTER_QUEUE", dead,
		"BRIDGE_EVENTS_EXCHANGE", exchange, "BRIDGE_EVENTS_CONSUMER", consumer, "OPS_TOKEN", bridgeOpsToken)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	if code, _ := getBridge(t, nodes[0], ""); code != http.StatusNotFound {
		t.Errorf("GET /bridge without the ops token: got %d; want 404", code)
	}
	first := waitOneHolder(t, nodes, 30*time.Second)
	t.Logf("node-%d holds the events lease", first+1)
	for i, s := range nodes {
		waitBridgeReady(t, ctx, s.NewClient()) // the nodes standing by are ready too
		_, v := getBridge(t, s, bridgeOpsToken)
		if !v.Commands.Enabled || !v.Commands.Consuming || !v.Events.Enabled || v.Events.Lease == nil {
			t.Errorf("node-%d GET /bridge: %+v; want commands consuming and events under a lease", i+1, v)
		}
	}

	ann := nodes[0].NewClient()
	sess, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	var ids []string
	for i := range 6 {
		cv, err := ann.CreateCanvas(ctx, fmt.Sprintf("Bridged %d", i))
		noErr(t, err)
		ids = append(ids, cv.ID)
	}
	w := startBridgeWriters(t, ctx, nodes, sess.AccessToken, ids)
	defer w.stop()
	time.Sleep(2 * time.Second)

	// A drain hands the lease over at once.
	w.avoid(first)
	t0 := time.Now()
	drain(t, nodes[first])
	second := waitOneHolder(t, nodes, 10*time.Second)
	drained := time.Since(t0)
	t.Logf("node-%d drained; node-%d took the events lease %v after the SIGTERM", first+1, second+1, drained.Round(time.Millisecond))

	// Without the bridge role a node runs no bridge.
	nodes[first].opts.Env["SKER_ROLES"] = "gateway,canvases,ai"
	nodes[first].Start()
	w.allow(first)
	if _, v := getBridge(t, nodes[first], bridgeOpsToken); v.Events.Enabled || v.Commands.Enabled || !strings.Contains(v.Events.Disabled, "SKER_ROLES") {
		t.Errorf("node-%d without the bridge role: GET /bridge %+v; want both mappings disabled, naming SKER_ROLES", first+1, v)
	}
	if code, checks, _ := nodes[first].NewClient().Ready(ctx); code != http.StatusOK || checks["rabbitmq"] != "" {
		t.Errorf("node-%d without the bridge role: /ready %d %v; want 200 without a rabbitmq check", first+1, code, checks)
	}
	if got := waitOneHolder(t, nodes, 10*time.Second); got != second {
		t.Errorf("after node-%d came back without the bridge role, node-%d holds the events lease; want node-%d still", first+1, got+1, second+1)
	}
	time.Sleep(2 * time.Second)

	// kill -9 of the holder while the others keep writing.
	w.avoid(second)
	killedAt := time.Now()
	events.mark(killedAt)
	nodes[second].Kill()
	third := waitOneHolder(t, nodes, 20*time.Second)
	tookOver := time.Since(killedAt)
	if third == first {
		t.Fatalf("node-%d, without the bridge role, took the events lease", first+1)
	}
	t.Logf("node-%d killed; node-%d took the events lease %v later", second+1, third+1, tookOver.Round(time.Millisecond))
	if limit := 5*time.Second + 5*time.Second; tookOver > limit {
		t.Errorf("take-over after kill -9 took %v; want within the lease TTL 5s plus 5s", tookOver)
	}
	time.Sleep(3 * time.Second)
	writes, failures := w.stop()
	time.Sleep(time.Second) // a write retried inside the cluster may still land

	want := map[string]uint64{}
	reader := nodes[third].NewClient()
	reader.Token = sess.AccessToken
	for _, id := range ids {
		cv, err := reader.GetCanvas(ctx, id)
		noErr(t, err)
		if cv.Seq == nil || *cv.Seq == 0 {
			t.Fatalf("canvas %s: no seq after the writes", id)
		}
		want[id] = *cv.Seq
	}
	events.wait(t, want, 90*time.Second)
	events.check(t, want)
	resumed := events.resumedAfter()
	t.Logf("%d writes (%d failed and retried) on %d canvases; %d duplicate events; events flowed again %v after the kill",
		writes, failures, len(ids), events.duplicates(), resumed.Round(time.Millisecond))
	holders, _ := eventsHolders(t, nodes)
	if !slices.Equal(holders, []string{fmt.Sprintf("node-%d", third+1)}) {
		t.Errorf("at the end, GET /bridge holders %v; want node-%d alone", holders, third+1)
	}
}

// bridgeWriters add notes to canvases through the nodes they are allowed,
// in turn, until stopped; a write that fails is not retried (the next has
// an id of its own), so the canvas's final seq is what the events must
// cover.
type bridgeWriters struct {
	cancel   context.CancelFunc
	logf     func(format string, args ...any)
	wg       sync.WaitGroup
	mu       sync.Mutex
	clients  []*Client
	avoided  map[int]bool
	writes   atomic.Int64
	failures atomic.Int64
	once     sync.Once
}

func startBridgeWriters(t *testing.T, ctx context.Context, nodes []*Sker, token string, ids []string) *bridgeWriters {
	ctx, cancel := context.WithCancel(ctx)
	w := &bridgeWriters{cancel: cancel, logf: t.Logf, avoided: map[int]bool{}}
	for _, s := range nodes {
		c := s.NewClient()
		c.Token = token
		w.clients = append(w.clients, c)
	}
	for k, id := range ids {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				c := w.pick(k + i)
				if _, err := c.PostOps(ctx, id, "", Op{Op: "node.add", ID: fmt.Sprintf("w%d", i), Kind: "note"}); err != nil {
					if w.failures.Add(1) <= 3 && ctx.Err() == nil {
						w.logf("write to canvas %s failed (the next goes on): %v", id, err)
					}
					time.Sleep(50 * time.Millisecond)
					continue
				}
				w.writes.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return w
}

// pick is the n-th allowed node's client, in turn.
func (w *bridgeWriters) pick(n int) *Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ok []*Client
	for i, c := range w.clients {
		if !w.avoided[i] {
			ok = append(ok, c)
		}
	}
	return ok[n%len(ok)]
}

func (w *bridgeWriters) avoid(i int) { w.mu.Lock(); w.avoided[i] = true; w.mu.Unlock() }
func (w *bridgeWriters) allow(i int) { w.mu.Lock(); delete(w.avoided, i); w.mu.Unlock() }

// stop ends the writers and returns the writes that succeeded and failed.
func (w *bridgeWriters) stop() (int64, int64) {
	w.once.Do(func() { w.cancel(); w.wg.Wait() })
	return w.writes.Load(), w.failures.Load()
}

// clusterEvents collects the events exchange's messages by canvas.
type clusterEvents struct {
	mu      sync.Mutex
	first   map[string][]uint64 // each canvas's seqs in the order first seen
	seen    map[string]bool
	dups    int
	bad     []string
	mark0   time.Time // the kill
	resumed time.Time // the first new event after mark0
}

func newClusterEvents(d <-chan amqp.Delivery) *clusterEvents {
	e := &clusterEvents{first: map[string][]uint64{}, seen: map[string]bool{}}
	go func() {
		for m := range d {
			e.add(m)
		}
	}()
	return e
}

func (e *clusterEvents) add(m amqp.Delivery) {
	var b struct {
		Seq uint64 `json:"seq"`
	}
	canvasID, _ := m.Headers["sker-canvas"].(string)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := json.Unmarshal(m.Body, &b); err != nil || m.MessageId != fmt.Sprintf("%s:%d", canvasID, b.Seq) {
		e.bad = append(e.bad, fmt.Sprintf("message_id %q body %q", m.MessageId, m.Body))
		return
	}
	if e.seen[m.MessageId] {
		e.dups++
		return
	}
	e.seen[m.MessageId] = true
	e.first[canvasID] = append(e.first[canvasID], b.Seq)
	if !e.mark0.IsZero() && e.resumed.IsZero() {
		e.resumed = time.Now()
	}
}

// mark notes the kill, to time when new events come again.
func (e *clusterEvents) mark(at time.Time) {
	e.mu.Lock()
	e.mark0 = at
	e.mu.Unlock()
}

func (e *clusterEvents) resumedAfter() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resumed.Sub(e.mark0)
}

func (e *clusterEvents) duplicates() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dups
}

// wait waits until every canvas of want has as many distinct batches as
// its seq.
func (e *clusterEvents) wait(t *testing.T, want map[string]uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e.mu.Lock()
		done := true
		for c, n := range want {
			done = done && uint64(len(e.first[c])) >= n
		}
		got := map[string]int{}
		for c := range want {
			got[c] = len(e.first[c])
		}
		e.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: distinct batches by canvas %v; want %v", within, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check fails on a bad event, and on a canvas whose batches did not first
// come in seq order from 1 with none missing up to its seq (a write whose
// answer was lost in the kill may commit after the seq was read: more is
// fine, in order).
func (e *clusterEvents) check(t *testing.T, want map[string]uint64) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.bad {
		t.Errorf("bad event: %s", b)
	}
	for c, n := range want {
		seqs := e.first[c]
		if uint64(len(seqs)) < n {
			t.Errorf("canvas %s: %d distinct batches; want %d", c, len(seqs), n)
		}
		for i, s := range seqs {
			if s != uint64(i+1) {
				t.Errorf("canvas %s: batch %d first seen was seq %d; want %d (in order, no gap)", c, i, s, i+1)
				break
			}
		}
	}
}

// drain sends SIGTERM to s and waits for exit code 0, failing on an error
// logged by its bridge. (Stop also fails on the NATS route errors logged
// while the nodes of a cluster start at once.)
func drain(t *testing.T, s *Sker) {
	t.Helper()
	cmd, done := s.current()
	if cmd == nil {
		t.Fatal("drain: sker is not running")
	}
	noErr(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Fatalf("drain: sker did not exit within %v of SIGTERM", stopTimeout)
	}
	err := s.exitErr()
	s.clear()
	if code := exitCode(err); code != 0 {
		t.Fatalf("drain: exit after SIGTERM: %v (code %d); want code 0", err, code)
	}
	b, err := os.ReadFile(s.logPath(s.starts))
	noErr(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, `"component":"bridge"`) {
			t.Errorf("sker run %d: the bridge logged an error: %s", s.starts, l)
		}
	}
}
