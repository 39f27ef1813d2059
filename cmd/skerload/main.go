// Command skerload is SKER's load generator: it speaks the WebSocket
// protocol (and REST for set-up) to a sker on loopback, runs the fanout,
// spread, burst, cold and idle scenarios, and reports latency percentiles,
// throughput, errors and the CPU and memory of both the server and
// itself. `make bench` runs the standard set; docs/performance.md has the
// method and the figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
)

const usage = `skerload — load generator for SKER

Usage:
  skerload [flags] <scenario>...   fanout, spread, burst, cold, idle, or bench (all five)
  skerload -server-bin bin/sker -cluster 3 <scenario>...   the same against three nodes
  skerload -server-bin bin/sker -cluster 3 failover        kill -9 of a canvas's owner under load
  skerload -from results.json [-plot f.svg] [-doc f.md]   re-render an earlier run

Each scenario runs against a fresh sker started from -server-bin (or the
running one at -addr), bounded by -timeout, on loopback only. With
-cluster N it starts N nodes of one cluster instead (a fresh PostgreSQL
database on -database-url, dropped afterwards) and puts every client on a
node that does not own its canvas.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "skerload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	var o options
	fs := flag.NewFlagSet("skerload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	cfg.flags(fs)
	o.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.from != "" {
		rep, err := loadReport(o.from)
		if err != nil {
			return err
		}
		rep.PrintTable(stdout)
		o.out = "" // never overwrite what was read
		return o.write(rep)
	}
	names, err := scenarioNames(fs.Args())
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := o.validate(names); err != nil {
		return err
	}
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "skerload: cannot raise the open-files limit:", err)
	}
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	rep := &Report{Commit: commitOf(o.commit), Machine: thisMachine()}
	var progress io.Writer = stderr
	if o.quiet {
		progress = nil
	}
	var failed []string
	for _, name := range names {
		res, err := o.runManaged(ctx, name, &cfg, progress)
		if err != nil {
			return err
		}
		if rep.Date.IsZero() {
			rep.Date = res.Started
		}
		rep.Results = append(rep.Results, res)
		if res.Failure != "" {
			failed = append(failed, name+": "+res.Failure)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.PrintTable(stdout)
	if err := o.write(rep); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, "; "))
	}
	return ctx.Err()
}

// scenarios are the runs skerload knows, in the standard set's order.
var scenarios = map[string]func(context.Context, *env, *Run) error{
	"fanout": scenarioFanout,
	"spread": scenarioSpread,
	"burst":  scenarioBurst,
	"cold":   scenarioCold,
	"idle":   scenarioIdle,
	// Not in the standard set: it needs -cluster.
	"failover": scenarioFailover,
}

var standardSet = []string{"fanout", "spread", "burst", "cold", "idle"}

func scenarioNames(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("name a scenario (%s) or bench", strings.Join(standardSet, ", "))
	}
	var out []string
	for _, a := range args {
		if a == "bench" || a == "all" {
			out = append(out, standardSet...)
			continue
		}
		if scenarios[a] == nil {
			return nil, fmt.Errorf("unknown scenario %q (%s, failover, bench)", a, strings.Join(standardSet, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

// startCPUProfile profiles the generator's own process until the returned
// function is called: where skerload spends the cores it takes from the
// server.
func startCPUProfile(path string) (func(), error) {
	if err := mkdirFor(path); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "skerload: cpuprofile:", err)
		}
	}, nil
}
