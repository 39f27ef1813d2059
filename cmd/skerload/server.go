package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Server is the sker under load.
type Server interface {
	// BaseURL is http://127.0.0.1:<port>.
	BaseURL() string
	// Stats are the server process's figures; false when the server is
	// not a local process the harness knows.
	Stats() (ProcStats, bool)
	// Restart stops the server and starts it again on the same data, so
	// that no canvas is active; false when the harness cannot.
	Restart(ctx context.Context) (bool, error)
	// PprofURL is the server's net/http/pprof base URL, or "".
	PprofURL() string
}

// externalServer is a server someone else started (-addr).
type externalServer struct {
	base string
	pid  int
}

func (s *externalServer) BaseURL() string  { return s.base }
func (s *externalServer) PprofURL() string { return "" }
func (s *externalServer) Restart(context.Context) (bool, error) {
	return false, nil
}
func (s *externalServer) Stats() (ProcStats, bool) {
	if s.pid == 0 {
		return ProcStats{}, false
	}
	st, err := readProcStats(s.pid)
	return st, err == nil
}

// ServerOptions say how to start a local sker.
type ServerOptions struct {
	Bin        string   // the sker binary (or skerprof, for profiles)
	NatsConfig string   // NATS_CONFIG, when not empty
	Pprof      bool     // set PPROF_ADDR (skerprof serves net/http/pprof there)
	Keep       bool     // keep the data folder
	Env        []string // KEY=VALUE added to the environment (runtime settings)

	// Secret is the JWT_SECRET; empty: a random one. The nodes of a
	// cluster share one, so that a token from one works on all.
	Secret string
	// Node is KEY=VALUE set before Env: a cluster node's name, routes,
	// replicas and shared database.
	Node []string
}

// procServer is a sker the harness started: its own data folder in a
// temporary directory, embedded NATS and SQLite, loopback only.
type procServer struct {
	opts    ServerOptions
	dir     string // temporary folder: data/, sker.log
	port    int
	pprof   string
	secret  string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	prevCPU float64 // CPU seconds of earlier incarnations
	prevHWM int64
}

// startServer starts a fresh sker and waits until it answers /health.
func startServer(ctx context.Context, opts ServerOptions) (*procServer, error) {
	s, err := newProcServer(opts)
	if err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newProcServer prepares a server's folder, port and secret without
// starting it.
func newProcServer(opts ServerOptions) (*procServer, error) {
	// The server runs in its own folder: a relative path would not resolve.
	bin, err := exec.LookPath(opts.Bin)
	if err != nil {
		return nil, fmt.Errorf("-server-bin: %w", err)
	}
	if opts.Bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skerload-")
	if err != nil {
		return nil, err
	}
	secret := opts.Secret
	if secret == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	}
	s := &procServer{opts: opts, dir: dir, secret: secret}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if opts.Pprof {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprof = "127.0.0.1:" + strconv.Itoa(p)
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *procServer) BaseURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *procServer) PprofURL() string {
	if s.pprof == "" {
		return ""
	}
	return "http://" + s.pprof
}

func (s *procServer) env() []string {
	env := []string{
		"HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(s.port),
		"DATA_DIR=" + filepath.Join(s.dir, "data"),
		"JWT_SECRET=" + s.secret,
		"LOG_LEVEL=warn",
		"SKER_ENV=development",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if s.opts.NatsConfig != "" {
		env = append(env, "NATS_CONFIG="+s.opts.NatsConfig)
	}
	if s.pprof != "" {
		env = append(env, "PPROF_ADDR="+s.pprof)
	}
	env = append(env, s.opts.Node...)
	return append(env, s.opts.Env...)
}

// start runs the binary in the temporary folder (so that no .env or
// nats.conf of the caller's folder applies) and waits for /health.
func (s *procServer) start(ctx context.Context) error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "sker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.opts.Bin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.dir, s.env(), logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.opts.Bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	// Idle runs need thousands of sockets on the server side too.
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil)
	}
	rc := newRESTClient(s.BaseURL())
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("sker exited during start-up: %s", s.logTail())
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		ok := rc.health(hctx)
		cancel()
		if ok {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sker did not answer /health within 60s: %s", s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *procServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "sker.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// Stats adds the CPU time of earlier incarnations (cold restarts) and keeps
// the highest peak RSS of all.
func (s *procServer) Stats() (ProcStats, bool) {
	s.mu.Lock()
	cmd, prevCPU, prevHWM := s.cmd, s.prevCPU, s.prevHWM
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return ProcStats{}, false
	}
	st, err := readProcStats(cmd.Process.Pid)
	if err != nil {
		return ProcStats{}, false
	}
	st.CPUSeconds += prevCPU
	st.PeakRSSBytes = max(st.PeakRSSBytes, prevHWM)
	return st, true
}

// stop ends the process with SIGTERM (a clean shutdown checkpoints every
// canvas), SIGKILL after 30s, and books its CPU time and peak RSS.
func (s *procServer) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	s.book(cmd)
}

// book adds an ended process's CPU time and peak RSS to the server's.
func (s *procServer) book(cmd *exec.Cmd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps := cmd.ProcessState; ps != nil {
		s.prevCPU += (ps.UserTime() + ps.SystemTime()).Seconds()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			s.prevHWM = max(s.prevHWM, ru.Maxrss<<10)
		}
	}
	s.cmd = nil
}

// kill ends the process with SIGKILL, as a crash would (no checkpoint, no
// leave), and books its CPU time and peak RSS.
func (s *procServer) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
	s.book(cmd)
}

// runOnce runs the binary with a sub-command other than serve (migrate)
// in the server's folder and environment.
func (s *procServer) runOnce(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.opts.Bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sker %v: %w: %s", args, err, bytes.TrimSpace(out))
	}
	return nil
}

// Restart stops sker and starts it again on the same data and port.
func (s *procServer) Restart(ctx context.Context) (bool, error) {
	s.stop()
	return true, s.start(ctx)
}

// Final are the figures of every incarnation, after Stop.
func (s *procServer) Final() ProcStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ProcStats{CPUSeconds: s.prevCPU, PeakRSSBytes: s.prevHWM}
}

// Stop ends the server and removes its folder (unless Keep).
func (s *procServer) Stop() {
	s.stop()
	if !s.opts.Keep {
		_ = os.RemoveAll(s.dir)
	} else {
		fmt.Fprintln(os.Stderr, "skerload: kept", s.dir)
	}
}

var errNoServer = errors.New("give -server-bin (a sker binary to start) or -addr (a running sker on loopback)")
