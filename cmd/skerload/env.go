package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// env is what a scenario works with: the server, a REST client holding
// the run's user, the WebSocket address and the settings.
type env struct {
	cfg  *Config
	srv  Server
	rest *restClient
	ws   string    // ws://127.0.0.1:<port>/ws
	out  io.Writer // progress; nil for none

	// cluster is the server's nodes when it has several (nil: one
	// server); away holds, per canvas placed, the indexes of the nodes
	// that do not own it (see place).
	cluster Cluster
	mu      sync.Mutex
	away    map[string][]int

	profWG sync.WaitGroup
}

func newEnv(cfg *Config, srv Server, rest *restClient, out io.Writer) *env {
	e := &env{cfg: cfg, srv: srv, rest: rest, out: out, ws: wsURL(srv.BaseURL()), away: map[string][]int{}}
	if c, ok := srv.(Cluster); ok {
		e.cluster = c
	}
	return e
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// place finds, on a cluster, the owner of each canvas, so that wsFor and
// restFor can put clients on the other nodes: it writes each canvas once
// (the write loads it on its owner) and asks GET /cluster/canvases/:id.
// On one server it does nothing.
func (e *env) place(ctx context.Context, r *Run, ids []string) error {
	if e.cluster == nil {
		return nil
	}
	nodes := len(e.cluster.NodeURLs())
	owned := make([]int, nodes)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			body := `{"cbid":"place","ops":[{"op":"node.add","id":"place","kind":"note","x":0,"y":-200}]}`
			if _, err := e.rest.postOps(gctx, id, []byte(body)); err != nil {
				return fmt.Errorf("place: first write to %s: %w", id, err)
			}
			owner, err := e.cluster.OwnerOf(gctx, id)
			if err != nil {
				return fmt.Errorf("place: %w", err)
			}
			if owner < 0 {
				return fmt.Errorf("place: no node owns %s after a write", id)
			}
			var away []int
			for k := range nodes {
				if k != owner {
					away = append(away, k)
				}
			}
			e.mu.Lock()
			e.away[id] = away
			owned[owner]++
			e.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.Params["cluster_nodes"] = nodes
	r.Params["canvases_owned_per_node"] = owned
	r.Params["clients_on"] = "nodes that do not own their canvas"
	return nil
}

// wsFor is the WebSocket address for the k-th client of canvasID: on a
// cluster, the nodes that do not own it in turn.
func (e *env) wsFor(canvasID string, k int) string {
	e.mu.Lock()
	away := e.away[canvasID]
	e.mu.Unlock()
	if len(away) == 0 {
		return e.ws
	}
	return wsURL(e.cluster.NodeURLs()[away[k%len(away)]])
}

// restFor is a REST client, as the run's user, on a node that does not own
// canvasID (the run's own client on one server).
func (e *env) restFor(canvasID string, k int) *restClient {
	e.mu.Lock()
	away := e.away[canvasID]
	e.mu.Unlock()
	if len(away) == 0 {
		return e.rest
	}
	rc := newRESTClient(e.cluster.NodeURLs()[away[k%len(away)]])
	rc.token, rc.user = e.rest.token, e.rest.user
	return rc
}

// connect dials n clients, a few at a time, the i-th at at(i) (nil: the
// server's address), and runs setup on each (join, first node). A client
// that fails is counted in the run's errors and left out (nil in the
// slice); the run goes on with the others, unless ctx ends.
func (e *env) connect(ctx context.Context, r *Run, n int, o clientOpts, at func(i int) string, setup func(context.Context, *client, int) error) ([]*client, error) {
	clients := make([]*client, n)
	g := new(errgroup.Group)
	g.SetLimit(max(e.cfg.DialConcurrency, 1))
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			addr := e.ws
			if at != nil {
				addr = at(i)
			}
			c, err := dialClient(ctx, r, addr, e.rest.token, i, o)
			if err != nil {
				r.Errors.Add("connect: " + shortErr(err))
				return nil
			}
			r.addClient(c)
			if err := setup(ctx, c, i); err != nil {
				r.Errors.Add("set-up: " + shortErr(err))
				return nil
			}
			clients[i] = c
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connecting %d clients: %w", n, err)
	}
	return clients, nil
}

// shortErr keeps the first clause of an error and drops addresses.
func shortErr(err error) string {
	msg := err.Error()
	for _, sep := range []string{" tcp ", "127.0.0.1:"} {
		if i := strings.Index(msg, sep); i >= 0 {
			if j := strings.LastIndex(msg, ": "); j > i {
				msg = msg[:i] + " …" + msg[j:]
			}
		}
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

// profileStart fetches the server's CPU profile over the window and a
// first allocation profile, when -profile is set and the server serves
// pprof (skerprof).
func (e *env) profileStart(ctx context.Context, r *Run) {
	base := e.srv.PprofURL()
	if e.cfg.ProfileDir == "" || base == "" {
		return
	}
	secs := int(math.Ceil(e.cfg.Duration.Seconds()))
	e.fetchProfile(ctx, base+"/debug/pprof/allocs", r.Name+"-allocs-start.pprof")
	e.profWG.Go(func() {
		e.fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), r.Name+"-cpu.pprof")
	})
}

// profileStop fetches the allocation, heap and mutex profiles at the end of
// the window and waits for the CPU profile.
func (e *env) profileStop(ctx context.Context, r *Run) {
	base := e.srv.PprofURL()
	if e.cfg.ProfileDir == "" || base == "" {
		return
	}
	e.fetchProfile(ctx, base+"/debug/pprof/allocs", r.Name+"-allocs-end.pprof")
	e.fetchProfile(ctx, base+"/debug/pprof/heap?gc=1", r.Name+"-heap.pprof")
	e.fetchProfile(ctx, base+"/debug/pprof/heap?debug=1", r.Name+"-memstats.txt") // runtime.MemStats at the end
	e.fetchProfile(ctx, base+"/debug/pprof/mutex", r.Name+"-mutex.pprof")
	e.fetchProfile(ctx, base+"/debug/pprof/goroutine", r.Name+"-goroutine.pprof")
	e.profWG.Wait()
	r.Notes = append(r.Notes, "profiles in "+e.cfg.ProfileDir)
}

func (e *env) fetchProfile(ctx context.Context, url, name string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skerload: profile:", err)
		return
	}
	defer resp.Body.Close()
	_ = os.MkdirAll(e.cfg.ProfileDir, 0o755)
	f, err := os.Create(filepath.Join(e.cfg.ProfileDir, name))
	if err != nil {
		fmt.Fprintln(os.Stderr, "skerload: profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
