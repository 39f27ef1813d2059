package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shape of TestDurableAckSurvivesKill.
const (
	durSenders = 4 // concurrent writers, so that batches share journal appends (group commit)
	durRounds  = 3 // kill -9 points
	durMinKill = 200 * time.Millisecond
	durMaxKill = 1500 * time.Millisecond
	durMinAcks = 20 // acks a round needs before its kill to prove anything
)

// TestDurableAckSurvivesKill checks guarantee 1: a change acknowledged to a
// client survives kill -9 of the process that acknowledged it.
//
// durSenders goroutines each own one property of node n1, data.s<k>, and
// set it to 1, 2, 3, … one batch at a time, each batch sent as soon as the
// previous one is acknowledged. At a random moment the process gets
// SIGKILL; it is restarted on the same DATA_DIR, and for every sender the
// value found must be at least its last acknowledged counter and at most
// the counter it had in flight. Because every committed batch raises the
// canvas's seq by one and sets one counter one higher, the seq found must
// also be exactly seq(after node.add) + Σ counters: nothing acknowledged
// is lost, and nothing unsent appears. Three rounds, on the same data, each
// starting from what the previous one recovered; then a graceful restart
// must show the same state again.
//
// The kill points come from a seeded math/rand; the seed is logged, and
// SKER_E2E_SEED=<seed> replays a run's kill points.
func TestDurableAckSurvivesKill(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("SKER_E2E_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("SKER_E2E_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with SKER_E2E_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))

	ctx := t.Context()
	s := StartSker(t, Options{})
	a := s.NewClient()
	if _, err := a.Register(ctx, "writer@example.com", "writer-password", "Writer"); err != nil {
		t.Fatal(err)
	}
	cv, err := a.CreateCanvas(ctx, "Durability")
	if err != nil {
		t.Fatal(err)
	}
	seq0, err := a.PostOps(ctx, cv.ID, "add-n1",
		Op{Op: "node.add", ID: "n1", Kind: "text", X: F(0), Y: F(0), Data: map[string]any{"text": "hi"}})
	if err != nil {
		t.Fatal(err)
	}

	// committed[k] is sender k's counter as last read back from the canvas.
	committed := make([]int, durSenders)
	for round := 1; round <= durRounds; round++ {
		killAfter := durMinKill + time.Duration(rng.Int63n(int64(durMaxKill-durMinKill)))
		t.Logf("round %d: SIGKILL %v after the senders start", round, killAfter.Round(time.Millisecond))

		var killed atomic.Bool
		results := make([]senderResult, durSenders)
		var wg sync.WaitGroup
		for k := range durSenders {
			wg.Go(func() { results[k] = runSender(ctx, a, cv.ID, round, k, committed[k], &killed) })
		}
		time.Sleep(killAfter)
		killed.Store(true)
		s.Kill()
		wg.Wait()

		acks := 0
		for _, r := range results {
			acks += len(r.acks)
			if r.early != nil {
				t.Errorf("round %d: sender %d: before the kill: %v", round, r.k, r.early)
			}
		}
		t.Logf("round %d: %d batches acknowledged before the kill", round, acks)
		if acks < durMinAcks {
			t.Errorf("round %d: %d batches acknowledged before the kill; want at least %d (too slow to test anything)", round, acks, durMinAcks)
		}

		s.Start()
		got := readCounters(t, a, cv.ID)
		checkRound(t, fmt.Sprintf("round %d", round), results, got, seq0)
		copy(committed, got.counters)
		if t.Failed() {
			return
		}
	}

	// A graceful restart after all this shows the same state.
	before := readCounters(t, a, cv.ID)
	s.Stop()
	s.Start()
	after := readCounters(t, a, cv.ID)
	if after.seq != before.seq || fmt.Sprint(after.counters) != fmt.Sprint(before.counters) {
		t.Errorf("graceful restart: got seq %d counters %v; want seq %d counters %v as before it",
			after.seq, after.counters, before.seq, before.counters)
	}
}

// ack is one acknowledged batch: the counter it set and its seq.
type ack struct {
	counter int
	seq     uint64
}

// senderResult is what one sender knows after its round.
type senderResult struct {
	k     int
	acks  []ack
	from  int // the counter the round started from (its first batch sets from+1)
	maxIn int // the highest counter that may have been committed: the last ack, or the batch in flight at the kill
	early error
}

// lastAcked is the highest acknowledged counter (from when there is none).
func (r senderResult) lastAcked() int {
	if len(r.acks) == 0 {
		return r.from
	}
	return r.acks[len(r.acks)-1].counter
}

// runSender sets data.s<k> of n1 to from+1, from+2, … until a request
// fails, which it must not before killed is set.
func runSender(ctx context.Context, c *Client, canvasID string, round, k, from int, killed *atomic.Bool) senderResult {
	r := senderResult{k: k, from: from, maxIn: from}
	prop := "data.s" + strconv.Itoa(k)
	for n := from + 1; ; n++ {
		r.maxIn = n // from here on, n may be committed
		cbid := fmt.Sprintf("r%d-s%d-%d", round, k, n)
		seq, err := c.PostOps(ctx, canvasID, cbid, Op{Op: "node.update", ID: "n1", Set: map[string]any{prop: n}})
		if err != nil {
			if definitelyRejected(err) {
				r.maxIn = n - 1 // the API says nothing was changed
			}
			if !killed.Load() {
				r.early = err
			}
			return r
		}
		r.acks = append(r.acks, ack{counter: n, seq: seq})
	}
}

// definitelyRejected reports whether err is an answer that says the batch
// changed nothing (4xx, or 503 unavailable); a lost connection or 503
// outcome_unknown leaves the outcome open.
func definitelyRejected(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return (ae.Status >= 400 && ae.Status < 500) || (ae.Status == http.StatusServiceUnavailable && ae.Code == "unavailable")
}

// counters is what the canvas holds: its seq and every sender's counter.
type counters struct {
	seq      uint64
	counters []int
	text     string
}

// readCounters reads n1's counters (0 for a property not set yet).
func readCounters(t *testing.T, c *Client, canvasID string) counters {
	t.Helper()
	cv, err := c.GetCanvas(t.Context(), canvasID)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Seq == nil {
		t.Fatalf("GET canvas %s: no seq in the answer", canvasID)
	}
	out := counters{seq: *cv.Seq, counters: make([]int, durSenders)}
	var n1 *Node
	for i := range cv.Nodes {
		if cv.Nodes[i].ID == "n1" {
			n1 = &cv.Nodes[i]
		}
	}
	if n1 == nil {
		t.Fatalf("GET canvas %s: node n1 is missing; nodes %+v", canvasID, cv.Nodes)
	}
	if err := json.Unmarshal(n1.Data["text"], &out.text); err != nil || out.text != "hi" {
		t.Errorf("n1 data.text: got %s; want \"hi\"", n1.Data["text"])
	}
	for k := range durSenders {
		raw, ok := n1.Data["s"+strconv.Itoa(k)]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, &out.counters[k]); err != nil {
			t.Errorf("n1 data.s%d: got %s; want an integer", k, raw)
		}
	}
	return out
}

// checkRound compares what the senders were told with what the restarted
// process holds.
func checkRound(t *testing.T, round string, results []senderResult, got counters, seq0 uint64) {
	t.Helper()
	var maxSeq uint64
	seen := map[uint64]string{}
	for _, r := range results {
		var prev uint64
		for i, a := range r.acks {
			if a.counter != r.from+i+1 {
				t.Fatalf("%s: sender %d: bookkeeping: ack %d has counter %d", round, r.k, i, a.counter)
			}
			if i > 0 && a.seq <= prev {
				t.Errorf("%s: sender %d: counter %d acked with seq %d after seq %d; want increasing seqs for one sender's batches",
					round, r.k, a.counter, a.seq, prev)
			}
			if other, dup := seen[a.seq]; dup {
				t.Errorf("%s: seq %d acknowledged twice: to %s and to sender %d counter %d", round, a.seq, other, r.k, a.counter)
			}
			seen[a.seq] = fmt.Sprintf("sender %d counter %d", r.k, a.counter)
			prev = a.seq
			maxSeq = max(maxSeq, a.seq)
		}
		v := got.counters[r.k]
		if v < r.lastAcked() {
			t.Errorf("%s: sender %d: after kill -9 and restart data.s%d = %d; want at least %d, its last acknowledged counter (seq %d): an acknowledged change was lost",
				round, r.k, r.k, v, r.lastAcked(), lastSeq(r))
		}
		if v > r.maxIn {
			t.Errorf("%s: sender %d: after restart data.s%d = %d; want at most %d, the last counter it sent",
				round, r.k, r.k, v, r.maxIn)
		}
	}
	if got.seq < maxSeq {
		t.Errorf("%s: after restart seq = %d; want at least %d, the highest acknowledged seq", round, got.seq, maxSeq)
	}
	want := seq0
	for _, v := range got.counters {
		want += uint64(v)
	}
	if got.seq != want {
		t.Errorf("%s: after restart seq = %d with counters %v; want %d = %d (node.add) + their sum: every committed batch raises seq by one",
			round, got.seq, got.counters, want, seq0)
	}
	t.Logf("%s: recovered seq %d, counters %v (highest acked seq %d)", round, got.seq, got.counters, maxSeq)
}

func lastSeq(r senderResult) uint64 {
	if len(r.acks) == 0 {
		return 0
	}
	return r.acks[len(r.acks)-1].seq
}
