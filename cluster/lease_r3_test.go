package cluster

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/skerhq/sker/embednats"
	"github.com/skerhq/sker/testkit"
)

// TestClaimRaceOnThreeReplicas: with the lease bucket on three servers of
// one NATS cluster (three copies), three nodes, each on its own server,
// race to claim one canvas 300 times, half of them for a canvas just
// released: exactly one wins each.
func TestClaimRaceOnThreeReplicas(t *testing.T) {
	routes := make([]string, 3)
	for i := range routes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = ln.Addr().String()
		ln.Close()
	}
	servers := make([]*embednats.Server, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			servers[i], errs[i] = embednats.Start(ctx, embednats.Config{
				DataDir: t.TempDir(), ServerName: fmt.Sprintf("node-%d", i+1),
				ClusterListen: routes[i], ClusterRoutes: routes, ClusterName: "sker-test",
			}, testkit.Logger())
		}()
	}
	wg.Wait()
	ls := make([]*Leases, 3)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(servers[i].Shutdown)
		nc, err := servers[i].Conn()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			attempt, stop := context.WithTimeout(t.Context(), 2*time.Second)
			// Not testTTL: this test races claims, not expiry, and on a
			// busy machine under -race a claim and its release can lie
			// more than a second apart.
			ls[i], err = OpenLeases(attempt, js, LeaseConfig{TTL: 30 * time.Second, Replicas: 3})
			stop()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: open a lease bucket of 3 copies: %v", i+1, err)
			}
			time.Sleep(100 * time.Millisecond) // the meta leader is being elected
		}
	}
	st, err := ls[0].kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info := st.(*jetstream.KeyValueBucketStatus).StreamInfo(); info.Cluster == nil || len(info.Cluster.Replicas)+1 != 3 {
		t.Fatalf("lease bucket: got cluster %+v; want 3 copies", info.Cluster)
	}
	for trial := range 300 {
		// Every second trial races for a canvas just released: its key's
		// last value is a delete marker, which a replicated bucket answers
		// with its own "wrong last sequence" code.
		won, errs := race(t, ls, fmt.Sprintf("r3-%d", trial/2))
		checkRace(t, trial, won, errs, true)
		for _, l := range won {
			if err := l.Release(t.Context()); err != nil {
				t.Fatalf("trial %d: release: %v", trial, err)
			}
		}
	}
}
