package bridge_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/bridge"
)

// genericLease is the lease of the mapping name as b reports it.
func genericLease(t *testing.T, b *running, name string) bridge.LeaseStatus {
	t.Helper()
	if l := genericStatus(t, b, name).Lease; l != nil {
		return *l
	}
	return bridge.LeaseStatus{}
}

// waitGenericHolder waits until exactly one of bs holds the mapping's
// lease and consumes, and returns its index.
func waitGenericHolder(t *testing.T, name string, timeout time.Duration, bs ...*running) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var holders []int
		for i, b := range bs {
			if b != nil && genericLease(t, b, name).Held && genericStatus(t, b, name).Consuming {
				holders = append(holders, i)
			}
		}
		switch {
		case len(holders) == 1:
			return holders[0]
		case len(holders) > 1:
			t.Fatalf("bridges %v all hold the lease of %s; want one", holders, name)
		case time.Now().After(deadline):
			t.Fatalf("no bridge holds the lease of %s after %v", name, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGenericLeaseHandOver: on a cluster, a mapping from a subject
// publishes from one bridge at a time; the other stands by, ready. When
// the holder drains, the other takes over at once and every message
// arrives, first in order.
func TestGenericLeaseHandOver(t *testing.T) {
	f := newFixture(t)
	ls := f.leases()
	s := subjectToExchange(f)
	cfg := func(node string) bridge.Config {
		c := f.genericConfig(s.m)
		c.Leases, c.Node, c.StandbyPoll = ls, node, 100*time.Millisecond
		return c
	}
	bs := []*running{f.start(cfg("node-a")), f.start(cfg("node-b"))}
	s.open()
	c := newCollector(t, s)
	h := waitGenericHolder(t, s.m.Name, 10*time.Second, bs...)
	other := bs[1-h]
	if l := genericLease(t, other, s.m.Name); l.Held || l.Key != bridge.GenericLeaseKey(s.m.Name) || genericStatus(t, other, s.m.Name).Consuming {
		t.Errorf("the bridge standing by reports %+v; want not held, key %s, not consuming", l, bridge.GenericLeaseKey(s.m.Name))
	}
	if err := other.Ready(context.Background()); err != nil {
		t.Errorf("the bridge standing by: Ready %v; want nil", err)
	}
	const n = 200
	for i := range n {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
	c.take(n/10, 20*time.Second)
	start := time.Now()
	bs[h].shutdown(t)
	waitGenericHolder(t, s.m.Name, leaseTTL, other)
	took := time.Since(start)
	for i := n; i < 2*n; i++ {
		s.send("id-"+strconv.Itoa(i), body(i))
	}
	s.flush()
	c.take(2*n, 30*time.Second)
	for i, b := range c.order {
		if b != body(i) {
			t.Fatalf("message %d: got %q; want %q", i, b, body(i))
		}
	}
	if took > leaseTTL/2 {
		t.Errorf("hand-over after a drain took %v; want well under the lease TTL %v", took, leaseTTL)
	}
	t.Logf("%d messages, hand-over in %v, %d duplicates with their ids", 2*n, took.Round(time.Millisecond), c.dups)
}

// TestGenericMetrics: each generic mapping has its series, labelled with
// its name, beside the connection's.
func TestGenericMetrics(t *testing.T) {
	f := newFixture(t)
	in, out := queueToSubject(f), subjectToExchange(f)
	cfg := f.genericConfig(in.m)
	cfg.Generic = append(cfg.Generic, out.m)
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	r := f.start(cfg)
	in.open()
	out.open()
	in.send("id-0", body(0))
	in.send("poison", strings.Repeat("p", genericLimit+1))
	out.send("id-0", body(0))
	out.flush()
	newCollector(t, in).take(1, 20*time.Second)
	newCollector(t, out).take(1, 20*time.Second)
	waitStatus(t, r, in.m.Name, "1 dead-lettered", func(st bridge.MappingStatus) bool { return st.DeadLettered == 1 && st.Acked == 2 })
	waitStatus(t, r, out.m.Name, "1 acked", func(st bridge.MappingStatus) bool { return st.Acked == 1 })
	for _, tc := range []struct {
		series, mapping string
		want            float64
	}{
		{"sker_bridge_in_total", in.m.Name, 2},
		{"sker_bridge_acked_total", in.m.Name, 2},
		{"sker_bridge_dead_lettered_total", in.m.Name, 1},
		{"sker_bridge_out_total", in.m.Name, 1},
		{"sker_bridge_in_total", out.m.Name, 1},
		{"sker_bridge_out_total", out.m.Name, 1},
		{"sker_bridge_consuming", out.m.Name, 1},
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got, found := 0.0, false
		for _, mf := range mfs {
			if mf.GetName() != tc.series {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "mapping" && l.GetValue() == tc.mapping {
						found = true
						got = m.GetCounter().GetValue() + m.GetGauge().GetValue()
					}
				}
			}
		}
		if !found || got != tc.want {
			t.Errorf("%s{mapping=%q}: got %v (found %v); want %v", tc.series, tc.mapping, got, found, tc.want)
		}
	}
}

// TestGenericStreamDeleted: a stream the bridge created and someone
// deleted comes back, and the next messages flow into it; nothing is
// dead-lettered for a fault that is not the message's.
func TestGenericStreamDeleted(t *testing.T) {
	f := newFixture(t)
	s := queueToSubject(f)
	r := f.start(f.genericConfig(s.m))
	stream := bridge.GenericStream("SKER", s.m.Name)
	s.open()
	s.send("id-0", body(0))
	newCollector(t, s).take(1, 20*time.Second)
	if err := f.js.DeleteStream(context.Background(), stream); err != nil {
		t.Fatal(err)
	}
	s.send("id-1", body(1))
	s.send("id-2", body(2))
	waitStatus(t, r, s.m.Name, "3 acked", func(st bridge.MappingStatus) bool { return st.Acked == 3 })
	s.open() // the stream is a new one
	c := newCollector(t, s)
	c.take(2, 20*time.Second)
	if c.order[0] != body(1) || c.order[1] != body(2) {
		t.Errorf("got %v; want msg-1, msg-2 in the new stream", c.order)
	}
	if st := genericStatus(t, r, s.m.Name); st.DeadLettered != 0 || !st.Consuming {
		t.Errorf("status %+v; want nothing dead-lettered, consuming", st)
	}
}

// TestGenericRefusedByStream: a stream of the operator's that captures the
// subject is used as it is (no stream of the bridge's is made); a message
// it refuses (over its maximum message size) is tried MaxAttempts times,
// then dead-lettered with JetStream's answer, and the next one flows.
func TestGenericRefusedByStream(t *testing.T) {
	f := newFixture(t)
	s := queueToSubject(f)
	own := "OPS_" + strings.ToUpper(strings.ReplaceAll(s.m.Name, "-", "_"))
	if _, err := f.js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: own, Subjects: []string{s.m.ToSubject}, MaxMsgSize: 256,
	}); err != nil {
		t.Fatal(err)
	}
	cfg := f.genericConfig(s.m)
	cfg.MaxAttempts = 2
	r := f.start(cfg)
	s.send("id-0", body(0))
	s.send("big", strings.Repeat("b", 512)) // under the bridge's limit, over the stream's
	s.send("id-1", body(1))
	waitStatus(t, r, s.m.Name, "3 acked, 1 dead-lettered", func(st bridge.MappingStatus) bool { return st.Acked == 3 && st.DeadLettered == 1 })
	if _, err := f.js.Stream(context.Background(), bridge.GenericStream("SKER", s.m.Name)); err == nil {
		t.Errorf("the bridge made stream %s; want it to use %s", bridge.GenericStream("SKER", s.m.Name), own)
	}
	info, err := f.js.Stream(context.Background(), own)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("stream %s holds %d messages; want 2", own, n)
	}
	dead := f.getAll(s.deadQueue)
	if len(dead) != 1 {
		t.Fatalf("dead-letter queue: got %d; want 1", len(dead))
	}
	reason, _ := dead[0].Headers[bridge.HeaderReason].(string)
	if !strings.Contains(reason, "JetStream refused it 2 times") || dead[0].MessageId != "big" || dead[0].Headers[bridge.HeaderQueue] != s.m.FromQueue {
		t.Errorf("dead letter %q: headers %v; want JetStream's refusal after 2 tries, its queue", dead[0].MessageId, dead[0].Headers)
	}
}
