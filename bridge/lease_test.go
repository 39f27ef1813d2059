package bridge_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/cluster"
)

// leaseTTL is the events lease's lifetime in these tests: short, and long
// enough to tell a release (a hand-over at once) from a lapse.
const leaseTTL = 3 * time.Second

// clusterConfig is the fixture's bridge as node name of a cluster: events
// only, under the events lease of ls.
func (f *fixture) clusterConfig(ls *cluster.Leases, name string) bridge.Config {
	cfg := f.config()
	cfg.DisableCommands = true
	cfg.Leases, cfg.Node = ls, name
	cfg.StandbyPoll = 100 * time.Millisecond
	return cfg
}

func (f *fixture) leases() *cluster.Leases {
	f.t.Helper()
	ls, err := cluster.OpenLeases(context.Background(), f.js, cluster.LeaseConfig{TTL: leaseTTL})
	if err != nil {
		f.t.Fatal(err)
	}
	return ls
}

// lease is the events mapping's lease as b reports it.
func lease(t *testing.T, b *running) bridge.LeaseStatus {
	t.Helper()
	st := b.Status()
	for _, m := range st.Mappings {
		if m.Name == bridge.MappingEvents && m.Lease != nil {
			return *m.Lease
		}
	}
	return bridge.LeaseStatus{}
}

// waitHolder waits until exactly one of the bridges holds the events lease
// and consumes, and returns its index.
func waitHolder(t *testing.T, timeout time.Duration, bs ...*running) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		holders := []int{}
		for i, b := range bs {
			if b == nil {
				continue
			}
			if lease(t, b).Held && b.Status().Mappings[0].Consuming {
				holders = append(holders, i)
			}
		}
		if len(holders) == 1 {
			return holders[0]
		}
		if len(holders) > 1 {
			t.Fatalf("bridges %v all hold the events lease; want one", holders)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bridge holds the events lease after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two bridges of one cluster on one consumer: one publishes, the other
// stands by (and is ready). A drained holder hands over at once, without
// waiting for its lease to lapse. A holder whose lease is taken from it
// stops publishing; the batches committed meanwhile come once a bridge
// holds the lease again, every one, first in seq order.
func TestEventsLeaseHandOver(t *testing.T) {
	f := newFixture(t)
	ls := f.leases()
	key := bridge.EventsLeaseKey(f.consumer)
	log := newEventLog(t, f.bindEvents("canvas.*.changes"))
	names := []string{"node-a", "node-b"}
	a := f.start(f.clusterConfig(ls, names[0]))
	b := f.start(f.clusterConfig(ls, names[1]))
	bs := []*running{a, b}
	h := waitHolder(t, 10*time.Second, bs...)
	other := bs[1-h]
	if l := lease(t, other); l.Held || l.Holder != lease(t, bs[h]).Holder || l.Key != key {
		t.Errorf("the bridge standing by reports %+v; want not held, held by %q, key %q", l, lease(t, bs[h]).Holder, key)
	}
	if err := other.Ready(context.Background()); err != nil {
		t.Errorf("the bridge standing by: Ready %v; want nil", err)
	}
	n := uint64(0)
	commit := func(k int) {
		for range k {
			n++
			f.commit(f.canvas, "n"+strconv.FormatUint(n, 10))
		}
	}
	commit(20)
	log.take(map[string]uint64{f.canvas: n}, 20*time.Second)

	// A lease taken from the holder (as after a pause longer than the
	// TTL): it must stop publishing.
	intruder := steal(t, ls, key)
	deadline := time.Now().Add(leaseTTL)
	for lease(t, bs[h]).Held {
		if time.Now().After(deadline) {
			t.Fatalf("the holder still holds the events lease %v after it was taken: %+v", leaseTTL, lease(t, bs[h]))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range bs {
		deadline := time.Now().Add(2 * time.Second)
		for l := lease(t, r); l.Held || l.Holder != "intruder"; l = lease(t, r) {
			if time.Now().After(deadline) {
				t.Fatalf("while another node holds the lease, a bridge reports %+v; want held by intruder", l)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := len(log.first[f.canvas])
	commit(10)
	quiet := time.After(2 * time.Second)
	for waiting := true; waiting; {
		select {
		case d := <-log.d:
			log.add(d)
		case <-quiet:
			waiting = false
		}
	}
	if got := len(log.first[f.canvas]); got != before {
		t.Fatalf("%d batches published while neither bridge held the events lease; want none", got-before)
	}
	if holder, _, err := ls.Holder(context.Background(), key); err != nil || holder != "intruder" {
		t.Fatalf("lease holder: %q, %v; want intruder", holder, err)
	}
	if err := intruder.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	h = waitHolder(t, 5*time.Second, bs...)
	log.take(map[string]uint64{f.canvas: n}, 20*time.Second)

	// A drain: the holder releases its lease, and the other takes over
	// well before the lease could have lapsed.
	commit(10)
	start := time.Now()
	bs[h].shutdown(t)
	survivor := bs[1-h]
	waitHolder(t, leaseTTL, survivor)
	took := time.Since(start)
	if took > leaseTTL/2 {
		t.Errorf("hand-over after a drain took %v; want well under the lease TTL %v (the lease released at once)", took, leaseTTL)
	}
	commit(10)
	log.take(map[string]uint64{f.canvas: n}, 20*time.Second)
	log.check()
	if l := lease(t, survivor); l.Takeovers < 1 || l.Holder != names[1-h] {
		t.Errorf("the survivor reports %+v; want held by %s, taken at least once", l, names[1-h])
	}
	t.Logf("%d batches, hand-over after a drain in %v, %d duplicate events", n, took.Round(time.Millisecond), log.dups)
}

// steal takes the events lease from whoever holds it for a node named
// intruder, as the server would let another node claim it after a lapse,
// and keeps it renewed until released.
func steal(t *testing.T, ls *cluster.Leases, key string) *cluster.Lease {
	t.Helper()
	ctx := context.Background()
	for range 20 {
		_, rev, err := ls.Holder(ctx, key)
		if err == nil {
			if err := ls.Release(ctx, key, rev); err != nil && !errors.Is(err, cluster.ErrLost) {
				t.Fatal(err)
			}
		}
		l, err := ls.Claim(ctx, key, "intruder")
		if err == nil {
			t.Cleanup(func() { _ = l.Release(context.Background()) })
			return l
		}
		if !errors.Is(err, cluster.ErrTaken) {
			t.Fatal(err)
		}
	}
	t.Fatal("could not take the events lease in 20 tries")
	return nil
}
