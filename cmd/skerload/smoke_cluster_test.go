//go:build clustersmoke

// The cluster smoke run is not part of `go test ./cmd/skerload` (make
// test): three nodes take about 23 s to form a cluster here, so the run
// takes about 31 s, 47 s under -race. Run it with
//
//	go test -tags clustersmoke -run TestSmokeCluster ./cmd/skerload

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/store"
	"github.com/skerhq/sker/testkit"
)

// inProcCluster is three whole sker nodes inside the test process, one
// cluster: their embedded NATS servers joined by routes on loopback, the
// journal at three copies, one fresh PostgreSQL database.
type inProcCluster struct {
	nodes []*inProcServer
}

func startInProcCluster(t *testing.T, n int) *inProcCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := testkit.PostgresURL(t)
	if _, err := store.MigratePostgres(ctx, db); err != nil {
		t.Fatal(err)
	}
	routes := make([]string, n)
	for i := range routes {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	c := &inProcCluster{}
	for i := range n {
		c.nodes = append(c.nodes, newInProc(t, map[string]string{
			"NODE_NAME": fmt.Sprintf("node-%d", i+1), "NATS_CLUSTER_LISTEN": routes[i],
			"NATS_CLUSTER_ROUTES": strings.Join(routes, ","), "JOURNAL_REPLICAS": "3", "DATABASE_URL": db,
		}))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range c.nodes {
		wg.Go(func() { errs[i] = s.start(ctx) })
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, s := range c.nodes {
			wg.Go(s.stop)
		}
		wg.Wait()
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node-%d: %v", i+1, err)
		}
	}
	if err := waitForMembers(ctx, c.BaseURL(), n, time.Minute); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *inProcCluster) BaseURL() string                       { return c.nodes[0].BaseURL() }
func (c *inProcCluster) PprofURL() string                      { return "" }
func (c *inProcCluster) Stats() (ProcStats, bool)              { return ProcStats{}, false }
func (c *inProcCluster) Restart(context.Context) (bool, error) { return false, nil }

func (c *inProcCluster) NodeURLs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.BaseURL()
	}
	return out
}

func (c *inProcCluster) live() []bool {
	out := make([]bool, len(c.nodes))
	for i, s := range c.nodes {
		s.mu.Lock()
		out[i] = s.cancel != nil
		s.mu.Unlock()
	}
	return out
}

func (c *inProcCluster) OwnerOf(ctx context.Context, canvasID string) (int, error) {
	return askOwner(ctx, c.NodeURLs(), c.live(), canvasID)
}

// Kill stops node i. In the test process that is a clean stop (its
// canvases handed back), not a kill -9: the smoke run checks the
// scenario's bookkeeping, bin/skerload -cluster 3 failover the crash.
func (c *inProcCluster) Kill(i int) { c.nodes[i].stop() }

// TestSmokeCluster runs fanout, spread and failover at tiny sizes against
// three nodes, every client on a node that does not own its canvas: no
// protocol error, no disconnect, every window send acked and delivered to
// every client of its canvas, and after the owner stops no acknowledged
// change missing.
func TestSmokeCluster(t *testing.T) {
	c := startInProcCluster(t, 3)
	cfg := smokeConfig()
	rest := newRESTClient(c.BaseURL())
	rest.token = c.nodes[0].token(t)
	receivers := map[string]int64{"fanout": 5, "spread": 3}
	for _, name := range []string{"fanout", "spread", "failover"} {
		t.Run(name, func(t *testing.T) {
			res := runScenario(context.Background(), name, &cfg, c, rest, nil)
			if res.Failure != "" {
				t.Fatalf("run failed: %s", res.Failure)
			}
			if res.ErrorCount != 0 || res.DisconnectCount != 0 {
				t.Errorf("errors %v, disconnects %v; want none", res.Errors, res.Disconnects)
			}
			if res.Params["cluster_nodes"] != 3 {
				t.Errorf("params %v; want cluster_nodes 3", res.Params)
			}
			if n, ok := receivers[name]; ok {
				if res.Sent == 0 || res.Acked != res.Sent || res.Delivered != n*res.Sent {
					t.Errorf("window: %d sent, %d acked, %d delivered; want every send acked and delivered to %d clients", res.Sent, res.Acked, res.Delivered, n)
				}
			}
			if name == "failover" {
				if res.Extra["acked_changes"] == 0 || res.Extra["acks_lost"] != 0 {
					t.Errorf("failover: %v acked, %v lost; want some acked, none lost", res.Extra["acked_changes"], res.Extra["acks_lost"])
				}
				if _, ok := res.Extra["failover_s"]; !ok {
					t.Errorf("failover: no ack after the owner stopped (extra %v)", res.Extra)
				}
			}
		})
	}
}
