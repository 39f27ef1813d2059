package e2e

import (
	"context"
	"fmt"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// startCluster starts n sker processes on one fresh PostgreSQL database,
// their embedded NATS servers forming one cluster through routes on free
// loopback ports, with the journal at the given replicas. The processes
// start at once, as an operator's would: each waits for the others.
//
// env adds settings to every node, as key, value pairs.
func startCluster(t *testing.T, n, replicas int, env ...string) []*Sker {
	t.Helper()
	return startClusterOn(t, nil, n, replicas, env...)
}

// startClusterOn is startCluster with node i on host i of nw (each in its
// own network namespace, PostgreSQL reached through nw.Forward); nil nw:
// every node on loopback.
func startClusterOn(t *testing.T, nw *testNet, n, replicas int, env ...string) []*Sker {
	t.Helper()
	url := testkit.PostgresURL(t)
	routes := make([]string, n)
	for i := range routes {
		if nw != nil {
			routes[i] = net.JoinHostPort(nw.IP(i), "6222") // a namespace of its own: the port is free
			continue
		}
		routes[i] = freeAddr(t)
	}
	if nw != nil {
		u, err := neturl.Parse(url)
		noErr(t, err)
		u.Host = nw.Forward(u.Host)
		url = u.String()
	}
	nodes := make([]*Sker, n)
	for i := range nodes {
		set := map[string]string{
			"NODE_NAME":           fmt.Sprintf("node-%d", i+1),
			"NATS_CLUSTER_LISTEN": routes[i],
			"NATS_CLUSTER_ROUTES": strings.Join(routes, ","),
			"JOURNAL_REPLICAS":    fmt.Sprint(replicas),
		}
		for k := 0; k+1 < len(env); k += 2 {
			set[env[k]] = env[k+1]
		}
		opts := Options{DatabaseURL: url, Env: set}
		if nw != nil {
			opts.NetNS, opts.Host = nw.NS(i), nw.IP(i)
		}
		nodes[i] = NewSker(t, opts)
	}
	if res := nodes[0].Run("migrate"); res.Code != 0 {
		t.Fatalf("sker migrate: code %d, stderr %s", res.Code, res.Stderr)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.tryStart() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node-%d: %v", i+1, err)
		}
	}
	return nodes
}

// streamLeader is the node whose server led the journal stream when the
// nodes started, as their logs say.
func streamLeader(t *testing.T, nodes []*Sker) int {
	t.Helper()
	for i := range nodes {
		if nodes[0].LogContains(fmt.Sprintf(`"stream_leader":"node-%d"`, i+1)) {
			return i
		}
	}
	t.Fatal("no node logged the journal's stream leader")
	return -1
}

// TestClusterJournalSurvivesANode: three sker processes form one NATS
// cluster with the journal at three replicas. Changes acknowledged by one
// node and not yet checkpointed live only in the journal; after kill -9 of
// the node whose server leads the journal stream, another node serves all
// of them from its own copy, and takes new changes at the next seq.
func TestClusterJournalSurvivesANode(t *testing.T) {
	testClusterJournalSurvivesANode(t, 3)
}

func testClusterJournalSurvivesANode(t *testing.T, replicas int) {
	all := startCluster(t, 3, replicas)
	// nodes[0] writes and is killed: the stream leader's node.
	lead := streamLeader(t, all)
	nodes := []*Sker{all[lead], all[(lead+1)%3], all[(lead+2)%3]}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ann := nodes[0].NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	c, err := ann.CreateCanvas(ctx, "Shared")
	noErr(t, err)
	var last uint64
	for i := range 20 {
		last, err = ann.PostOps(ctx, c.ID, fmt.Sprintf("b%d", i), Op{Op: "node.add", ID: fmt.Sprintf("n%d", i), Kind: "note"})
		noErr(t, err)
	}
	nodes[0].Kill()

	on2 := &Client{s: nodes[1], Token: ann.Token}
	var got Canvas
	deadline := time.Now().Add(time.Minute)
	for {
		got, err = on2.GetCanvas(ctx, c.ID)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the journal's stream leader moves
	}
	noErr(t, err)
	if got.Seq == nil || *got.Seq != last || len(got.Nodes) != 20 {
		seq := uint64(0)
		if got.Seq != nil {
			seq = *got.Seq
		}
		t.Fatalf("canvas on another node after the leader's kill -9: got seq %d with %d nodes; want seq %d with 20", seq, len(got.Nodes), last)
	}
	next, err := on2.PostOps(ctx, c.ID, "after", Op{Op: "node.add", ID: "after", Kind: "note"})
	noErr(t, err)
	if next != last+1 {
		t.Fatalf("first change on node 2: got seq %d; want %d", next, last+1)
	}
	on3 := &Client{s: nodes[2], Token: ann.Token}
	got, err = on3.GetCanvas(ctx, c.ID)
	noErr(t, err)
	if got.Seq == nil || *got.Seq != next || len(got.Nodes) != 21 {
		t.Fatalf("canvas on node 3: got %+v; want seq %d with 21 nodes", got.Seq, next)
	}
}

// TestClusterNeedsPostgres: a node configured to cluster on the embedded
// SQLite store refuses to start and says why.
func TestClusterNeedsPostgres(t *testing.T) {
	s := NewSker(t, Options{Env: map[string]string{"NATS_CLUSTER_LISTEN": "127.0.0.1:0"}})
	res := s.RunFor(30*time.Second, "serve")
	if res.Code == 0 || !strings.Contains(res.Stderr, "DATABASE_URL") {
		t.Fatalf("clustered serve on SQLite: code %d, stderr %q; want non-zero and a message naming DATABASE_URL", res.Code, res.Stderr)
	}
}
