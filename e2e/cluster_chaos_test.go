package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chaosDuration is how long TestClusterChaos disturbs the cluster:
// CHAOS_DURATION (a Go duration; `make chaos` sets minutes), else 60 s.
func chaosDuration(t *testing.T) time.Duration {
	v := os.Getenv("CHAOS_DURATION")
	if v == "" {
		return time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("CHAOS_DURATION=%q: want a duration such as 5m", v)
	}
	return d
}

// terminate stops s with SIGTERM and waits for it to exit, as Stop does,
// but without judging its log: in a chaos run a node logs the errors its
// neighbours' failures cause.
func terminate(t *testing.T, s *Sker) {
	t.Helper()
	_, done := s.current()
	s.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Fatalf("sker did not exit within %v of SIGTERM", stopTimeout)
	}
	s.clear()
}

// TestClusterChaos: while clients on node-1 write to several canvases,
// every few seconds one of the two other nodes is killed and started
// again, paused past its lease and resumed, or stopped and started again
// (one at a time, so the journal keeps a majority of its three copies).
// Then every batch acknowledged is on its canvas once, every client's
// stream of seqs has no gap and no duplicate, and no connection ended.
// As Orleans' ChaoticCluster does, it checks outcomes, not timings; its
// figures are logged for docs/cluster.md.
func TestClusterChaos(t *testing.T) {
	duration := chaosDuration(t)
	nodes := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Minute)
	defer cancel()
	ann := nodes[0].NewClient()
	sess, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	const canvases = 6
	ids := make([]string, canvases)
	writers := make([]*writer, canvases)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range ids {
		cv, err := ann.CreateCanvas(ctx, fmt.Sprintf("c%d", i))
		noErr(t, err)
		ids[i] = cv.ID
		writers[i] = &writer{c: dialCanvas(t, fmt.Sprintf("writer %d", i), nodes[0], sess.AccessToken, cv.ID), pause: 50 * time.Millisecond}
		wg.Add(1)
		go func() { defer wg.Done(); writers[i].run(stop, fmt.Sprintf("c%d", i)) }()
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	actions := map[string]int{}
	end := time.Now().Add(duration)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(2000+rng.IntN(2000)) * time.Millisecond)
		n := 1 + rng.IntN(2)
		victim := nodes[n]
		switch rng.IntN(3) {
		case 0:
			victim.Kill()
			time.Sleep(2 * time.Second)
			victim.Start()
			actions["kill -9, start"]++
		case 1:
			victim.Signal(syscall.SIGSTOP)
			time.Sleep(7 * time.Second) // past the lease's 5 s
			victim.Signal(syscall.SIGCONT)
			actions["SIGSTOP 7 s, SIGCONT"]++
		default:
			terminate(t, victim)
			victim.Start()
			actions["SIGTERM, start"]++
		}
		t.Logf("chaos: node-%d done; so far %v", n+1, actions)
	}
	// Writable again everywhere, then a few more seconds of writing.
	settled := time.Now()
	for _, w := range writers {
		if !writableAgain([]*writer{w}, settled, 90*time.Second) {
			t.Errorf("%s: nothing acknowledged in the 90 s after the chaos ended", w.c.name)
		}
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	total := 0
	for i, w := range writers {
		checkWritten(t, canvasEventually(t, ctx, ann, ids[i]), w)
		total += len(w.acked)
	}
	t.Logf("chaos for %v: %v; %d batches acknowledged, every one on its canvas, seqs contiguous", duration, actions, total)
}
