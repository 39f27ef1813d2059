package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// options say where the server comes from and where results go.
type options struct {
	addr, bin, natsConfig string
	pid                   int
	out, plot, doc        string
	commit                string
	from                  string
	cpuProfile            string
	serverEnv             envList
	keep, quiet           bool
	cluster               int    // nodes to start; 0: one server
	databaseURL           string // PostgreSQL admin URL for a cluster's database
}

// validate checks the choice of server against the scenarios.
func (o *options) validate(names []string) error {
	switch {
	case o.cluster != 0 && (o.cluster < 3 || o.cluster > 9):
		return fmt.Errorf("-cluster must be 0 (one server) or 3 to 9 nodes")
	case o.cluster != 0 && o.addr != "":
		return fmt.Errorf("-cluster starts its nodes from -server-bin; it cannot be used with -addr")
	case o.cluster == 0 && slices.Contains(names, "failover"):
		return fmt.Errorf("failover needs -cluster (3 or more nodes)")
	}
	return nil
}

// envList is the repeatable -server-env flag.
type envList []string

func (l *envList) String() string { return strings.Join(*l, ",") }

// Set takes KEY=VALUE for the started server's environment: runtime
// settings such as GOGC, GOMEMLIMIT or GOMAXPROCS, or any of its own. The
// harness's own (where it listens, its data folder and secret) cannot be
// changed: every run is on loopback, on a fresh folder.
func (l *envList) Set(v string) error {
	key, _, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	switch key {
	case "HOST", "PORT", "DATA_DIR", "JWT_SECRET", "PPROF_ADDR", "DATABASE_URL", "NATS_URL":
		return fmt.Errorf("%s is set by the harness", key)
	}
	*l = append(*l, v)
	return nil
}

func (o *options) flags(fs *flag.FlagSet) {
	natsConf := ""
	if abs, err := filepath.Abs("nats.conf"); err == nil {
		if _, err := os.Stat(abs); err == nil {
			natsConf = abs
		}
	}
	fs.StringVar(&o.bin, "server-bin", "", "sker binary started fresh (embedded NATS and SQLite, temporary DATA_DIR) for each scenario")
	fs.StringVar(&o.addr, "addr", "", "instead: a running sker to load, http://127.0.0.1:<port> (loopback only)")
	fs.IntVar(&o.pid, "server-pid", 0, "with -addr: the server's pid, to read its CPU time and RSS from /proc")
	fs.StringVar(&o.natsConfig, "nats-config", natsConf, "NATS_CONFIG for the started server (default: ./nats.conf when present)")
	fs.StringVar(&o.out, "out", "", "write the results as JSON to this file")
	fs.StringVar(&o.plot, "plot", "", "write an SVG plot of the results to this file")
	fs.StringVar(&o.doc, "doc", "", "append a dated summary to this Markdown file")
	fs.StringVar(&o.commit, "commit", "", "commit to record (default: git describe --always --dirty)")
	fs.StringVar(&o.from, "from", "", "run nothing: read the results JSON of an earlier run and print, plot or append it")
	fs.BoolVar(&o.keep, "keep", false, "keep the started server's data folder")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of skerload itself (not the server), over the whole run, to this file")
	fs.IntVar(&o.cluster, "cluster", 0, "start this many nodes of one cluster (3 to 9; JOURNAL_REPLICAS=3, a fresh PostgreSQL database) instead of one server")
	fs.StringVar(&o.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "with -cluster: the PostgreSQL server (an admin connection on loopback) where each run's database is created and dropped")
	fs.Var(&o.serverEnv, "server-env", "KEY=VALUE added to the started server's environment, e.g. GOGC=200 (repeatable)")
}

// runManaged runs one scenario against a fresh server (or the one at
// -addr) and stops the server again.
func (o *options) runManaged(ctx context.Context, name string, cfg *Config, progress io.Writer) (Result, error) {
	if o.addr != "" {
		if err := loopbackOnly(o.addr); err != nil {
			return Result{}, err
		}
		srv := &externalServer{base: strings.TrimRight(o.addr, "/"), pid: o.pid}
		return runScenario(ctx, name, cfg, srv, newRESTClient(srv.base), progress), nil
	}
	if o.bin == "" {
		return Result{}, errNoServer
	}
	sopts := ServerOptions{Bin: o.bin, NatsConfig: o.natsConfig, Pprof: cfg.ProfileDir != "", Keep: o.keep, Env: o.serverEnv}
	var srv managedServer
	var err error
	if o.cluster > 0 {
		sopts.Pprof = false // one pprof listener would not say which node
		srv, err = startCluster(ctx, o.cluster, o.databaseURL, sopts)
	} else {
		srv, err = startServer(ctx, sopts)
	}
	if err != nil {
		return Result{}, err
	}
	res := runScenario(ctx, name, cfg, srv, newRESTClient(srv.BaseURL()), progress)
	if len(o.serverEnv) > 0 {
		if res.Params == nil {
			res.Params = map[string]any{}
		}
		res.Params["server_env"] = []string(o.serverEnv)
	}
	srv.Stop()
	if res.Server != nil {
		final := srv.Final()
		res.Server.CPUTotalSeconds = final.CPUSeconds
		res.Server.PeakRSSBytes = max(res.Server.PeakRSSBytes, final.PeakRSSBytes)
	}
	return res, nil
}

// managedServer is a server skerload started: one process or a cluster.
type managedServer interface {
	Server
	Stop()
	Final() ProcStats
}

// runScenario runs one scenario within cfg.Timeout; rest registers a user
// first unless it has a token already.
func runScenario(ctx context.Context, name string, cfg *Config, srv Server, rest *restClient, progress io.Writer) Result {
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := NewRun(name)
	e := newEnv(cfg, srv, rest, progress)
	if e.cluster != nil {
		r.Params["cluster_nodes"] = len(e.cluster.NodeURLs())
	}
	var err error
	if rest.token == "" {
		err = rest.register(ctx)
	}
	if err == nil {
		stop := startSampler(ctx, e, r)
		err = scenarios[name](ctx, e, r)
		stop()
	}
	r.CloseAll()
	res := r.result(started)
	if err != nil {
		res.Failure = err.Error()
	}
	return res
}

// write saves the JSON, the plot and the Markdown summary that were asked
// for.
func (o *options) write(rep *Report) error {
	if o.out != "" {
		if err := mkdirFor(o.out); err != nil {
			return err
		}
		if err := rep.WriteJSON(o.out); err != nil {
			return err
		}
	}
	if o.plot != "" {
		if err := mkdirFor(o.plot); err != nil {
			return err
		}
		if err := rep.WritePlot(o.plot); err != nil {
			return err
		}
	}
	if o.doc != "" {
		return rep.AppendDoc(o.doc, o.plot)
	}
	return nil
}

func mkdirFor(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o755)
}

// commitOf is the commit to record: the flag, or git describe.
func commitOf(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// AppendDoc appends a dated summary of the report to a Markdown file,
// creating it with a title when it does not exist.
func (rep *Report) AppendDoc(path, plot string) error {
	var b strings.Builder
	if _, err := os.Stat(path); os.IsNotExist(err) {
		b.WriteString("# Performance\n\n## Run log\n\nAppended by `make bench` (cmd/skerload).\n")
	}
	m := rep.Machine
	fmt.Fprintf(&b, "\n### %s — commit %s\n\n", rep.Date.UTC().Format("2006-01-02 15:04 UTC"), rep.Commit)
	fmt.Fprintf(&b, "%s, %d cores, %.0f GiB, Linux %s, %s. A fresh `sker` per scenario (embedded NATS and SQLite); the generator runs on the same cores.\n\n",
		m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go)
	b.WriteString(rep.Markdown())
	b.WriteString("\n")
	for _, r := range rep.Results {
		for _, d := range details(r) {
			fmt.Fprintf(&b, "- **%s** %s: %s\n", d.scenario, d.key, d.text)
		}
	}
	if plot != "" {
		rel, err := filepath.Rel(filepath.Dir(path), plot)
		if err != nil {
			rel = plot
		}
		fmt.Fprintf(&b, "\nPlot of this run: [%s](%s) (overwritten by the next run).\n", filepath.Base(plot), filepath.ToSlash(rel))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadReport reads a results JSON written by -out.
func loadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}
