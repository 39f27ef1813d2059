package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// A cluster of locally started nodes (-cluster N): N `sker serve`
// processes whose embedded NATS servers form one NATS cluster by routes,
// with the journal at min(N, 3) copies, sharing one fresh PostgreSQL
// database and one JWT secret (docs/cluster.md). Every node serves every
// canvas; the scenarios put their clients on nodes that do not own their
// canvas, so that each change crosses the cluster.

// clusterServer is the Server of a locally started cluster: its base URL
// is node-1's; Stats sum every node's process.
type clusterServer struct {
	nodes []*procServer
	names []string // NODE_NAME of each node: node-1, node-2…
	admin string   // the PostgreSQL server's admin URL
	db    string   // the run's database, dropped by Stop
	keep  bool
}

// Cluster is what scenarios need of a server made of several nodes.
type Cluster interface {
	// NodeURLs are the nodes' base URLs, in node order.
	NodeURLs() []string
	// OwnerOf is the index of the node that owns canvasID, as
	// GET /cluster/canvases/:id on a live node says; -1 when no node does.
	OwnerOf(ctx context.Context, canvasID string) (int, error)
	// Kill ends node i with SIGKILL.
	Kill(i int)
}

// startCluster creates the database, migrates it once, starts n nodes at
// once and waits until every one is healthy and node-1 lists all n.
func startCluster(ctx context.Context, n int, admin string, opts ServerOptions) (_ *clusterServer, err error) {
	c := &clusterServer{admin: admin, keep: opts.Keep}
	if c.db, err = createDatabase(ctx, admin); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	dbURL, err := databaseURL(admin, c.db)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i := range routes {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		routes[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	opts.Secret = hex.EncodeToString(b[:])
	for i := range n {
		name := fmt.Sprintf("node-%d", i+1)
		o := opts
		o.Node = []string{
			"NODE_NAME=" + name,
			"NATS_CLUSTER_LISTEN=" + routes[i],
			"NATS_CLUSTER_ROUTES=" + strings.Join(routes, ","),
			fmt.Sprintf("JOURNAL_REPLICAS=%d", min(n, 3)),
			"DATABASE_URL=" + dbURL,
		}
		s, err := newProcServer(o)
		if err != nil {
			return nil, err
		}
		c.nodes, c.names = append(c.nodes, s), append(c.names, name)
	}
	if err := c.nodes[0].runOnce(ctx, "migrate"); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := c.startAll(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startAll starts every node at once (a node waits for the others to elect
// the journal's leader) and waits for node-1 to list them all.
func (c *clusterServer) startAll(ctx context.Context) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, s := range c.nodes {
		wg.Go(func() {
			if err := s.start(ctx); err != nil {
				errs[i] = fmt.Errorf("cluster: %s: %w", c.names[i], err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.waitForMembers(ctx, 0, len(c.nodes), 60*time.Second)
}

// waitForMembers waits until node i's GET /cluster lists want nodes.
func (c *clusterServer) waitForMembers(ctx context.Context, i, want int, within time.Duration) error {
	if err := waitForMembers(ctx, c.nodes[i].BaseURL(), want, within); err != nil {
		return fmt.Errorf("cluster: %s: %w", c.names[i], err)
	}
	return nil
}

// waitForMembers waits until GET /cluster at base lists want nodes.
func waitForMembers(ctx context.Context, base string, want int, within time.Duration) error {
	rc := newRESTClient(base)
	deadline := time.Now().Add(within)
	got := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var out struct {
			Nodes []struct {
				Name string `json:"name"`
			} `json:"nodes"`
		}
		if err := rc.do(ctx, http.MethodGet, "/cluster", nil, &out); err == nil {
			if got = len(out.Nodes); got == want {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("GET /cluster lists %d nodes after %s; want %d", got, within, want)
}

func (c *clusterServer) BaseURL() string  { return c.nodes[0].BaseURL() }
func (c *clusterServer) PprofURL() string { return "" }

func (c *clusterServer) NodeURLs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.BaseURL()
	}
	return out
}

// Stats sum the nodes: CPU time, RSS and write calls of every live node
// plus what ended incarnations booked; the peak RSS is the sum of the
// nodes' peaks (an upper bound of the cluster's peak), so that the figures
// compare with one node's.
func (c *clusterServer) Stats() (ProcStats, bool) {
	var sum ProcStats
	for _, s := range c.nodes {
		st, ok := s.Stats()
		if !ok {
			st = s.Final() // a killed node: what its incarnations used
		}
		sum.CPUSeconds += st.CPUSeconds
		sum.RSSBytes += st.RSSBytes
		sum.PeakRSSBytes += st.PeakRSSBytes
		sum.WriteCalls += st.WriteCalls
	}
	return sum, true
}

// Final sums the nodes' figures after Stop.
func (c *clusterServer) Final() ProcStats {
	var sum ProcStats
	for _, s := range c.nodes {
		f := s.Final()
		sum.CPUSeconds += f.CPUSeconds
		sum.PeakRSSBytes += f.PeakRSSBytes
	}
	return sum
}

// Restart stops every node (SIGTERM, at once: each checkpoints its
// canvases and gives their leases back) and starts them all again on the
// same data, so that no canvas is active anywhere.
func (c *clusterServer) Restart(ctx context.Context) (bool, error) {
	c.stopAll()
	return true, c.startAll(ctx)
}

func (c *clusterServer) stopAll() {
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		wg.Go(s.stop)
	}
	wg.Wait()
}

// Kill ends node i with SIGKILL.
func (c *clusterServer) Kill(i int) { c.nodes[i].kill() }

// OwnerOf asks a live node where canvasID lives.
func (c *clusterServer) OwnerOf(ctx context.Context, canvasID string) (int, error) {
	live := make([]bool, len(c.nodes))
	for i, s := range c.nodes {
		_, live[i] = s.Stats()
	}
	return askOwner(ctx, c.NodeURLs(), live, canvasID)
}

// askOwner asks the first live node that answers GET /cluster/canvases/:id
// which node owns canvasID; nodes are named node-1, node-2… in the order
// of urls. -1: no node owns it.
func askOwner(ctx context.Context, urls []string, live []bool, canvasID string) (int, error) {
	lastErr := errors.New("cluster: no node is running")
	for i, base := range urls {
		if !live[i] {
			continue
		}
		var out struct {
			Owner string `json:"owner"`
		}
		if err := newRESTClient(base).do(ctx, http.MethodGet, "/cluster/canvases/"+canvasID, nil, &out); err != nil {
			lastErr = fmt.Errorf("cluster: where is %s (asked node-%d): %w", canvasID, i+1, err)
			continue
		}
		for k := range urls {
			if out.Owner == fmt.Sprintf("node-%d", k+1) {
				return k, nil
			}
		}
		return -1, nil
	}
	return -1, lastErr
}

// Stop ends every node, removes their folders (unless -keep) and drops the
// database.
func (c *clusterServer) Stop() {
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		wg.Go(s.Stop)
	}
	wg.Wait()
	if c.db == "" {
		return
	}
	if c.keep {
		fmt.Fprintln(os.Stderr, "skerload: kept database", c.db)
		return
	}
	if err := dropDatabase(c.admin, c.db); err != nil {
		fmt.Fprintln(os.Stderr, "skerload:", err)
	}
}

// createDatabase creates an empty database sker_load_<random> on the
// PostgreSQL server at admin.
func createDatabase(ctx context.Context, admin string) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "sker_load_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("cluster: PostgreSQL at -database-url: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("cluster: create database %s: %w", name, err)
	}
	return name, nil
}

func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("cluster: drop database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// FORCE ends sessions a killed node left open.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("cluster: drop database %s: %w", name, err)
	}
	return nil
}

// databaseURL is admin with its database replaced by name.
func databaseURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("-database-url %q: %w", admin, err)
	}
	if h := u.Hostname(); h != "localhost" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("-database-url %q is not loopback: a cluster run uses a database on this machine", admin)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}
