package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/skerhq/sker/testkit"
)

// testTTL keeps the lease tests short; DefaultLeaseTTL behaves the same,
// five times slower.
const testTTL = time.Second

func openLeases(t *testing.T, js jetstream.JetStream) *Leases {
	t.Helper()
	ls, err := OpenLeases(t.Context(), js, LeaseConfig{TTL: testTTL})
	if err != nil {
		t.Fatalf("OpenLeases: %v", err)
	}
	return ls
}

// nodes connects n clients to ns, each with its own Leases, as n nodes.
func nodes(t *testing.T, ns *server.Server, n int) []*Leases {
	t.Helper()
	out := make([]*Leases, n)
	for i := range out {
		_, js := testkit.Connect(t, ns)
		out[i] = openLeases(t, js)
	}
	return out
}

// race has every node claim canvasID at once and returns the leases won
// and the errors of the others.
func race(t *testing.T, ls []*Leases, canvasID string) ([]*Lease, []error) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		won    []*Lease
		errs   []error
		starts = make(chan struct{})
	)
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-starts
			lease, err := l.Claim(t.Context(), canvasID, fmt.Sprintf("node-%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				won = append(won, lease)
			}
		}()
	}
	close(starts)
	wg.Wait()
	return won, errs
}

// checkRace: exactly one winner; every other claim is ErrTaken naming it.
// With copies (a bucket of several replicas), a loser may read the holder
// from a copy a moment behind: it then names an older lease of the key,
// at a lower revision, which the routing layer's redirect corrects.
func checkRace(t *testing.T, trial int, won []*Lease, errs []error, copies bool) {
	t.Helper()
	if len(won) != 1 {
		t.Fatalf("trial %d: got %d winners (errors %v); want 1", trial, len(won), errs)
	}
	for _, err := range errs {
		var taken *TakenError
		if !errors.As(err, &taken) || !errors.Is(err, ErrTaken) {
			t.Fatalf("trial %d: loser got %v; want a *TakenError", trial, err)
		}
		if copies && taken.Revision < won[0].Revision() {
			continue // an older lease, read from a copy behind
		}
		if taken.Holder != won[0].Node() || taken.Revision != won[0].Revision() {
			t.Fatalf("trial %d: loser saw holder %q at %d; want %q at %d",
				trial, taken.Holder, taken.Revision, won[0].Node(), won[0].Revision())
		}
	}
}

// TestClaimRaceHasOneWinner: 1,000 trials of four nodes, each on its own
// connection, racing to claim one canvas: exactly one wins each, and the
// others are told who. Half the trials race for a canvas just released.
func TestClaimRaceHasOneWinner(t *testing.T) {
	ls := nodes(t, testkit.NATSServer(t), 4)
	for trial := range 1000 {
		id := fmt.Sprintf("race-%d", trial/2)
		won, errs := race(t, ls, id)
		checkRace(t, trial, won, errs, false)
		for _, l := range won {
			if err := l.Release(t.Context()); err != nil {
				t.Fatalf("trial %d: release: %v", trial, err)
			}
		}
	}
}

// TestRenewKeepsLease: a holder that renews keeps its lease well past the
// TTL: the key is still on the server (the bucket's max age counts from
// the last renewal, not from the claim), the lease is valid, and another
// node's claim is refused.
func TestRenewKeepsLease(t *testing.T) {
	ls := nodes(t, testkit.NATSServer(t), 2)
	a, err := ls[0].Claim(t.Context(), "c1", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	first := a.Revision()
	time.Sleep(4 * testTTL)
	if !a.Valid() {
		t.Fatalf("lease after 4 TTLs of renewals: invalid (%v); want valid", a.Err())
	}
	// The lease may renew while the server is read: its revision before
	// the read and after it bound the server's.
	before := a.Revision()
	holder, rev, err := ls[1].Holder(t.Context(), "c1")
	after := a.Revision()
	// A renewal the server has committed may still be on its way back to
	// the lease: give its answer a TTL to arrive.
	for deadline := time.Now().Add(testTTL); after < rev && time.Now().Before(deadline); after = a.Revision() {
		time.Sleep(time.Millisecond)
	}
	if err != nil || holder != "node-a" {
		t.Fatalf("holder on the server: got %q, %v; want node-a", holder, err)
	}
	if rev <= first || rev < before || rev > after {
		t.Errorf("revision: server %d, lease %d then %d, claim %d; want the server's between the lease's, above the claim's",
			rev, before, after, first)
	}
	if _, err := ls[1].Claim(t.Context(), "c1", "node-b"); !errors.Is(err, ErrTaken) {
		t.Errorf("claim by node-b: got %v; want ErrTaken", err)
	}
}

// TestStalledHolderFencesItselfFirst: a holder whose renew loop stops (as
// under SIGSTOP) stops being valid while its key is still on the server;
// once the key expires another node claims the canvas, and the stalled
// holder's renewal fails with ErrLost.
func TestStalledHolderFencesItselfFirst(t *testing.T) {
	ls := nodes(t, testkit.NATSServer(t), 2)
	stalled := make(chan struct{})
	resume := make(chan struct{})
	var once sync.Once
	a, err := ls[0].claim(t.Context(), "c1", "node-a", func() {
		once.Do(func() { close(stalled); <-resume })
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	wake := sync.OnceFunc(func() { close(resume) })
	defer wake() // before a.Stop, which waits for the loop
	<-stalled
	<-a.Done()
	// The server must still hold the key: the holder fenced itself first.
	holder, _, err := ls[1].Holder(t.Context(), "c1")
	if err != nil || holder != "node-a" {
		t.Fatalf("key on the server when the holder lapsed: got %q, %v; want node-a still there", holder, err)
	}
	if a.Valid() || !errors.Is(a.Err(), ErrLapsed) {
		t.Fatalf("stalled lease: valid %v, err %v; want invalid with ErrLapsed", a.Valid(), a.Err())
	}
	if _, err := ls[1].Claim(t.Context(), "c1", "node-b"); !errors.Is(err, ErrTaken) {
		t.Fatalf("claim by node-b before the key expired: got %v; want ErrTaken", err)
	}

	var b *Lease
	ctx, cancel := context.WithTimeout(t.Context(), 10*testTTL)
	defer cancel()
	for {
		b, err = ls[1].Claim(ctx, "c1", "node-b")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrTaken) {
			t.Fatalf("claim by node-b: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer b.Stop()
	wake() // the loop wakes, sees the lapse and ends
	if err := a.Renew(t.Context()); !errors.Is(err, ErrLost) {
		t.Errorf("stalled holder's renewal after node-b claimed: got %v; want ErrLost", err)
	}
	if err := a.Release(t.Context()); !errors.Is(err, ErrLost) {
		t.Errorf("stalled holder's release after node-b claimed: got %v; want ErrLost", err)
	}
	if holder, _, err := ls[0].Holder(t.Context(), "c1"); err != nil || holder != "node-b" || !b.Valid() {
		t.Errorf("after the stalled holder's attempts: holder %q (%v), node-b valid %v; want node-b, valid", holder, err, b.Valid())
	}
}

// TestReleaseLetsAnotherClaimAtOnce: after a release, another node claims
// without waiting for any expiry, and the released lease is invalid.
func TestReleaseLetsAnotherClaimAtOnce(t *testing.T) {
	ls := nodes(t, testkit.NATSServer(t), 2)
	a, err := ls[0].Claim(t.Context(), "c1", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(t.Context()); err != nil {
		t.Fatalf("release: %v", err)
	}
	if a.Valid() || !errors.Is(a.Err(), ErrReleased) {
		t.Errorf("released lease: valid %v, err %v; want invalid with ErrReleased", a.Valid(), a.Err())
	}
	b, err := ls[1].Claim(t.Context(), "c1", "node-b")
	if err != nil {
		t.Fatalf("claim by node-b right after the release: %v; want it won", err)
	}
	b.Stop()
}

// TestStaleRenewAndReleaseFail: a renewal or release at a revision that is
// not the key's last (a non-holder's, or an old holder's) fails with
// ErrLost and leaves the holder's lease alone.
func TestStaleRenewAndReleaseFail(t *testing.T) {
	ls := nodes(t, testkit.NATSServer(t), 2)
	ctx := t.Context()
	a, err := ls[0].Claim(ctx, "c1", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	old := a.Revision()
	if _, err := ls[1].Renew(ctx, "c1", "node-b", old+7); !errors.Is(err, ErrLost) {
		t.Errorf("renew at a wrong revision: got %v; want ErrLost", err)
	}
	if err := ls[1].Release(ctx, "c1", old+7); !errors.Is(err, ErrLost) {
		t.Errorf("release at a wrong revision: got %v; want ErrLost", err)
	}
	if _, err := ls[1].Renew(ctx, "none", "node-b", 1); !errors.Is(err, ErrLost) {
		t.Errorf("renew of a key never claimed: got %v; want ErrLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := ls[1].Claim(ctx, "c1", "node-b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if _, err := ls[0].Renew(ctx, "c1", "node-a", old); !errors.Is(err, ErrLost) {
		t.Errorf("old holder's renewal at its old revision: got %v; want ErrLost", err)
	}
	if err := ls[0].Release(ctx, "c1", old); !errors.Is(err, ErrLost) {
		t.Errorf("old holder's release at its old revision: got %v; want ErrLost", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("released lease's renewal: got %v; want ErrLost", err)
	}
	if holder, _, err := ls[0].Holder(ctx, "c1"); err != nil || holder != "node-b" || !b.Valid() {
		t.Errorf("holder: got %q (%v), node-b valid %v; want node-b, valid", holder, err, b.Valid())
	}
}
