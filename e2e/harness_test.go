package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is stamped into the binary with -ldflags, so that `sker
// version` can be checked exactly.
const testVersion = "e2e-0.0.0-test"

// testJWTSecret signs access tokens in every process started here. It is
// fixed, so tokens issued before a restart stay valid after it.
const testJWTSecret = "e2e-test-secret-0123456789abcdef-0123456789"

// Timeouts of the harness.
const (
	startTimeout = 60 * time.Second // until /health answers: a node of a three-node cluster on a busy machine waits up to ~20 s for its NATS servers to elect a meta leader
	stopTimeout  = 25 * time.Second // SIGTERM until exit (SHUTDOWN_TIMEOUT is 10s)
	killTimeout  = 10 * time.Second // SIGKILL until the exit is observed
	cmdTimeout   = 60 * time.Second // one-shot commands: version, migrate, seed
	httpTimeout  = 15 * time.Second // one HTTP request
)

// skerBin is the binary TestMain built.
var skerBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sker-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	skerBin = filepath.Join(dir, "sker")
	t0 := time.Now()
	// No -race: the race detector is for the test process; the binary is
	// built as an operator would build it.
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", skerBin, "./cmd/sker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/sker in %s: %v\n%s", root, err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", skerBin, time.Since(t0).Round(time.Millisecond))
	}
	return m.Run()
}

// moduleRoot is the folder of the go.mod of the module under test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// baseEnv is the environment every sker subprocess starts from: only what a
// process needs to run, so that a developer's own DATABASE_URL, NATS_URL or
// SKER_* variables never leak into a test.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Options configure a sker process.
type Options struct {
	// DatabaseURL is DATABASE_URL; empty means the embedded SQLite store.
	DatabaseURL string
	// Env adds or overrides settings (an empty value removes one).
	Env map[string]string
	// NetNS runs `sker serve` inside this network namespace (see
	// testNet); empty: the test's own.
	NetNS string
	// Host is HOST, the address the server listens on and clients use;
	// empty: 127.0.0.1.
	Host string
}

// Sker is one sker server process, and its restarts on the same DATA_DIR.
type Sker struct {
	t       *testing.T
	opts    Options
	DataDir string // kept across restarts
	workDir string // the process's working folder: empty, so no .env or nats.conf is read
	logDir  string
	starts  int

	mu      sync.Mutex // guards the fields below, read by client goroutines
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error         // cmd.Wait's result, set before done closes
	baseURL string
	hc      *http.Client
}

// StartSker starts `sker serve` on a fresh DATA_DIR and waits until /health
// answers. The process is killed when the test ends, and its logs are
// printed when the test failed.
func StartSker(t *testing.T, opts Options) *Sker {
	t.Helper()
	s := NewSker(t, opts)
	s.Start()
	return s
}

// NewSker prepares a server on a fresh DATA_DIR without starting it.
func NewSker(t *testing.T, opts Options) *Sker {
	t.Helper()
	s := &Sker{t: t, opts: opts, DataDir: t.TempDir(), workDir: t.TempDir(), logDir: t.TempDir()}
	if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
		// Logs kept after the test, for reading a failure in full.
		s.logDir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"), filepath.Base(s.DataDir))
		if err := os.MkdirAll(s.logDir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.killIfRunning()
		if t.Failed() {
			s.dumpLogs()
		}
	})
	return s
}

// env is the process environment for one run with the given port.
func (s *Sker) env(port int) []string {
	set := map[string]string{
		"HOST":             cmp.Or(s.opts.Host, "127.0.0.1"),
		"PORT":             strconv.Itoa(port),
		"DATA_DIR":         s.DataDir,
		"LOG_FORMAT":       "json",
		"LOG_LEVEL":        "info",
		"JWT_SECRET":       testJWTSecret,
		"SHUTDOWN_TIMEOUT": "10s",
	}
	if s.opts.DatabaseURL != "" {
		set["DATABASE_URL"] = s.opts.DatabaseURL
	}
	for k, v := range s.opts.Env {
		set[k] = v
	}
	env := baseEnv()
	for k, v := range set {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Start starts `sker serve` (again, after Stop or Kill) on the same
// DATA_DIR and a new free port, and waits until /health answers.
func (s *Sker) Start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		err := s.tryStart()
		if err == nil {
			return
		}
		// Another process may have taken the free port in between.
		if attempt < 3 && errors.Is(err, errPortTaken) {
			s.t.Logf("sker start %d: %v; retrying on another port", s.starts, err)
			continue
		}
		s.t.Fatalf("start sker (log %s): %v", s.logPath(s.starts), err)
	}
}

var errPortTaken = errors.New("port already in use")

func (s *Sker) logPath(n int) string {
	return filepath.Join(s.logDir, fmt.Sprintf("serve-%d.log", n))
}

func (s *Sker) tryStart() error {
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return errors.New("already running")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.starts++
	logf, err := os.Create(s.logPath(s.starts))
	if err != nil {
		return err
	}
	cmd := exec.Command(skerBin, "serve")
	if s.opts.NetNS != "" {
		// ip execs sker in the namespace: cmd's pid is sker's, so signals
		// reach it directly.
		cmd = exec.Command("ip", "netns", "exec", s.opts.NetNS, skerBin, "serve")
	}
	cmd.Dir = s.workDir
	cmd.Env = s.env(port)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.baseURL = "http://" + net.JoinHostPort(cmp.Or(s.opts.Host, "127.0.0.1"), strconv.Itoa(port))
	s.hc = &http.Client{Timeout: httpTimeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second,
	}}
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			s.clear()
			log, _ := os.ReadFile(s.logPath(s.starts))
			if bytes.Contains(log, []byte("address already in use")) {
				return errPortTaken
			}
			return fmt.Errorf("sker exited before /health answered (%v); output:\n%s", s.exitErr(), log)
		default:
		}
		if s.healthy() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/health did not answer 200 within %v", startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Sker) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/health", nil)
	resp, err := s.HTTP().Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// URL is the base URL of the running process, like http://127.0.0.1:43127.
func (s *Sker) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// HTTP is the client for the running process (a new one per start, so no
// connection outlives the process it was made to).
func (s *Sker) HTTP() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hc
}

// Running reports whether the process has been started and not seen to exit.
func (s *Sker) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// exitErr is the process's cmd.Wait error once it has exited.
func (s *Sker) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// clear forgets the exited process.
func (s *Sker) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hc != nil {
		s.hc.CloseIdleConnections()
	}
	s.cmd, s.done = nil, nil
}

func (s *Sker) current() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.done
}

// Stop sends SIGTERM and waits for a clean exit (code 0) within
// stopTimeout; anything else fails the test.
func (s *Sker) Stop() {
	s.t.Helper()
	cmd, done := s.current()
	if cmd == nil {
		s.t.Fatal("Stop: sker is not running")
	}
	t0 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("Stop: SIGTERM: %v", err)
	}
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.t.Errorf("Stop: sker did not exit within %v of SIGTERM; killing it", stopTimeout)
		_ = cmd.Process.Kill()
		<-done
	}
	err := s.exitErr()
	s.clear()
	if code := exitCode(err); code != 0 {
		s.t.Fatalf("Stop: exit after SIGTERM: %v (code %d); want code 0", err, code)
	}
	s.t.Logf("sker stopped gracefully in %v", time.Since(t0).Round(time.Millisecond))
	// A run that ends cleanly has logged no error and no panic.
	b, err := os.ReadFile(s.logPath(s.starts))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if (strings.Contains(l, `"level":"ERROR"`) && !routeTransportError(l)) || strings.HasPrefix(l, "panic:") {
			s.t.Errorf("sker run %d logged an error: %s", s.starts, l)
		}
	}
}

// routeTransportError reports a log line of the embedded NATS server about
// a route connection whose peer went away while it wrote to it: when nodes
// join, two of them may dial each other at once and one of the two
// connections is dropped as a duplicate, and a node that stops closes its
// routes; and nodes that start together dial routes to peers not yet
// listening, and dial again. nats-server logs these at error level; they
// lose nothing.
func routeTransportError(l string) bool {
	if !strings.Contains(l, `"component":"nats"`) {
		return false
	}
	if strings.Contains(l, "Error trying to connect to route") && strings.Contains(l, "connection refused") {
		return true
	}
	if !strings.Contains(l, " - rid:") {
		return false
	}
	for _, s := range []string{"broken pipe", "connection reset by peer", "use of closed network connection"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL (kill -9) and waits until the process is gone.
func (s *Sker) Kill() {
	s.t.Helper()
	cmd, done := s.current()
	if cmd == nil {
		s.t.Fatal("Kill: sker is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Fatalf("Kill: SIGKILL: %v", err)
	}
	select {
	case <-done:
	case <-time.After(killTimeout):
		s.t.Fatalf("Kill: sker still running %v after SIGKILL", killTimeout)
	}
	err := s.exitErr()
	s.clear()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		s.t.Fatalf("Kill: exit after SIGKILL: %v; want killed by a signal", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		s.t.Fatalf("Kill: exit status %v; want killed by SIGKILL (did it exit before?)", ee)
	}
}

// killIfRunning is the cleanup: no sker outlives its test.
func (s *Sker) killIfRunning() {
	cmd, done := s.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(killTimeout):
		s.t.Errorf("cleanup: sker pid %d still running %v after SIGKILL", cmd.Process.Pid, killTimeout)
	}
	s.clear()
}

// dumpLogs prints every run's output, without the routine access log lines
// when a run logged a lot.
func (s *Sker) dumpLogs() {
	for n := 1; n <= s.starts; n++ {
		path := s.logPath(n)
		b, err := os.ReadFile(path)
		if err != nil {
			s.t.Logf("sker run %d: %v", n, err)
			continue
		}
		s.t.Logf("sker run %d output (%s, %d bytes):\n%s", n, path, len(b), summarizeLog(b, 300))
	}
}

// summarizeLog keeps the last max lines of a log, leaving out successful
// "http request" lines first when there are more than max lines.
func summarizeLog(b []byte, max int) string {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) <= max {
		return string(b)
	}
	var kept []string
	omitted := 0
	for _, l := range lines {
		var rec struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "http request" && rec.Status < 400 {
			omitted++
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) > max {
		omitted += len(kept) - max
		kept = kept[len(kept)-max:]
	}
	return fmt.Sprintf("[%d lines left out: successful requests, and the oldest]\n%s", omitted, strings.Join(kept, ""))
}

// LogContains reports whether any run's output contains substr.
func (s *Sker) LogContains(substr string) bool {
	for n := 1; n <= s.starts; n++ {
		b, _ := os.ReadFile(s.logPath(n))
		if bytes.Contains(b, []byte(substr)) {
			return true
		}
	}
	return false
}

// Result is the outcome of a one-shot sker command.
type Result struct {
	Stdout, Stderr string
	Code           int // exit code; -1 when killed
}

// Run runs `sker args...` in the process's empty working folder with the
// harness environment (the same DATA_DIR, a free PORT) and waits for it to
// end within cmdTimeout. A command still running then is killed and fails
// the test.
func (s *Sker) Run(args ...string) Result {
	s.t.Helper()
	return s.RunFor(cmdTimeout, args...)
}

// RunFor is Run with another timeout.
func (s *Sker) RunFor(timeout time.Duration, args ...string) Result {
	s.t.Helper()
	port, err := freePort()
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, skerBin, args...)
	cmd.Dir = s.workDir
	cmd.Env = s.env(port)
	cmd.SysProcAttr = procAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: exitCode(err)}
	if ctx.Err() != nil {
		s.t.Fatalf("sker %s: still running after %v; killed. stdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), timeout, res.Stdout, res.Stderr)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatalf("sker %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// exitCode is the exit code in a cmd.Wait error: 0 for nil, -1 for a
// signal or a failure to run.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Ports for the processes a test starts are taken below the kernel's
// ephemeral range (32768 and up on Linux): a port picked there and given to
// a sker a moment later could meanwhile be handed by the kernel to another
// process's outgoing connection or to an embedded NATS server's random
// client port, and a sker's health probe would then talk to a NATS server.
const (
	firstTestPort = 20000
	lastTestPort  = 32767
)

var ports struct {
	sync.Mutex
	next int
}

// freePort returns a loopback TCP port that was free a moment ago, from
// [firstTestPort, lastTestPort], never the same twice in one test binary
// until the range wraps; the start is random, so that test binaries running
// at the same time rarely meet.
func freePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	n := lastTestPort - firstTestPort + 1
	if ports.next == 0 {
		ports.next = firstTestPort + rand.IntN(n)
	}
	for range n {
		p := ports.next
		ports.next++
		if ports.next > lastTestPort {
			ports.next = firstTestPort
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, fmt.Errorf("free port: none free in %d-%d", firstTestPort, lastTestPort)
}

// freeAddr is freePort as "127.0.0.1:port".
func freeAddr(t testing.TB) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// ---------------------------------------------------------------------------
// The REST client.

// APIError is a non-2xx answer: the status and the API's error body
// {"error":{"code","message","field"}}.
type APIError struct {
	Method, Path string
	Status       int
	Code         string `json:"code"`
	Message      string `json:"message"`
	Field        string `json:"field"`
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s (body %s)", e.Method, e.Path, e.Status, e.Code, e.Message, e.Body)
}

// Client is a typed REST client of one sker server (it follows restarts:
// every request goes to the process running now). Token is the bearer
// token, set by Register and Login.
type Client struct {
	s     *Sker
	Token string
	User  User
}

// NewClient is an anonymous client of s.
func (s *Sker) NewClient() *Client { return &Client{s: s} }

// User is an account as the API shows it.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Session is the answer of register and login.
type Session struct {
	User         User   `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// Canvas is a canvas as GET /api/v1/canvases/:id shows it; list and
// create leave out seq, nodes and edges.
type Canvas struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Settings  json.RawMessage `json:"settings"`
	Role      string          `json:"role"`
	CreatedBy string          `json:"created_by"`
	Seq       *uint64         `json:"seq"`
	Nodes     []Node          `json:"nodes"`
	Edges     []Edge          `json:"edges"`
}

// Node is a card on a canvas.
type Node struct {
	ID     string                     `json:"id"`
	Kind   string                     `json:"kind"`
	X      float64                    `json:"x"`
	Y      float64                    `json:"y"`
	Data   map[string]json.RawMessage `json:"data"`
	Author string                     `json:"author"`
}

// Edge connects two nodes.
type Edge struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Target string `json:"target"`
	Kind   string `json:"kind"`
}

// Member is a member of a canvas.
type Member struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
}

// Op is one change in the wire format of POST /api/v1/canvases/:id/ops.
type Op struct {
	Op     string         `json:"op"`
	ID     string         `json:"id,omitempty"`
	Kind   string         `json:"kind,omitempty"`
	X      *float64       `json:"x,omitempty"`
	Y      *float64       `json:"y,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
	Set    map[string]any `json:"set,omitempty"`
	Unset  []string       `json:"unset,omitempty"`
	Source string         `json:"source,omitempty"`
	Target string         `json:"target,omitempty"`
}

// F returns a pointer to v, for Op.X and Op.Y.
func F(v float64) *float64 { return &v }

// Do sends one request with a JSON body (when in is not nil) and decodes
// a 2xx answer into out (when not nil). A non-2xx answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.s.URL()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.s.HTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
		var wrapper struct {
			Error *APIError `json:"error"`
		}
		if json.Unmarshal(raw, &wrapper) == nil && wrapper.Error != nil {
			e.Code, e.Message, e.Field = wrapper.Error.Code, wrapper.Error.Message, wrapper.Error.Field
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %d with body %s: %w", method, path, resp.StatusCode, raw, err)
		}
	}
	return nil
}

// Register creates an account and keeps its token.
func (c *Client) Register(ctx context.Context, email, password, name string) (Session, error) {
	var ses Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/auth/register",
		map[string]string{"email": email, "password": password, "name": name}, &ses)
	if err == nil {
		c.Token, c.User = ses.AccessToken, ses.User
	}
	return ses, err
}

// Login signs in and keeps the token.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	var ses Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/auth/login",
		map[string]string{"email": email, "password": password}, &ses)
	if err == nil {
		c.Token, c.User = ses.AccessToken, ses.User
	}
	return ses, err
}

// Me is GET /api/v1/me.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	return u, c.Do(ctx, http.MethodGet, "/api/v1/me", nil, &u)
}

// CreateCanvas is POST /api/v1/canvases.
func (c *Client) CreateCanvas(ctx context.Context, title string) (Canvas, error) {
	var cv Canvas
	return cv, c.Do(ctx, http.MethodPost, "/api/v1/canvases", map[string]string{"title": title}, &cv)
}

// ListCanvases is GET /api/v1/canvases.
func (c *Client) ListCanvases(ctx context.Context) ([]Canvas, error) {
	var out struct {
		Canvases []Canvas `json:"canvases"`
	}
	return out.Canvases, c.Do(ctx, http.MethodGet, "/api/v1/canvases", nil, &out)
}

// GetCanvas is GET /api/v1/canvases/:id (metadata, role, seq, nodes, edges).
func (c *Client) GetCanvas(ctx context.Context, id string) (Canvas, error) {
	var cv Canvas
	return cv, c.Do(ctx, http.MethodGet, "/api/v1/canvases/"+id, nil, &cv)
}

// RenameCanvas is PATCH /api/v1/canvases/:id {title}.
func (c *Client) RenameCanvas(ctx context.Context, id, title string) (Canvas, error) {
	var cv Canvas
	return cv, c.Do(ctx, http.MethodPatch, "/api/v1/canvases/"+id, map[string]string{"title": title}, &cv)
}

// AddMember is POST /api/v1/canvases/:id/members {email, role}.
func (c *Client) AddMember(ctx context.Context, canvasID, email, role string) (Member, error) {
	var m Member
	return m, c.Do(ctx, http.MethodPost, "/api/v1/canvases/"+canvasID+"/members",
		map[string]string{"email": email, "role": role}, &m)
}

// Members is GET /api/v1/canvases/:id/members.
func (c *Client) Members(ctx context.Context, canvasID string) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	return out.Members, c.Do(ctx, http.MethodGet, "/api/v1/canvases/"+canvasID+"/members", nil, &out)
}

// PostOps is POST /api/v1/canvases/:id/ops {cbid, ops} → the batch's seq.
func (c *Client) PostOps(ctx context.Context, canvasID, cbid string, ops ...Op) (uint64, error) {
	var out struct {
		Seq *uint64 `json:"seq"`
	}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/canvases/"+canvasID+"/ops",
		map[string]any{"cbid": cbid, "ops": ops}, &out); err != nil {
		return 0, err
	}
	if out.Seq == nil {
		return 0, fmt.Errorf("POST /api/v1/canvases/%s/ops: 2xx without a seq", canvasID)
	}
	return *out.Seq, nil
}

// Ready is GET /ready: the status code and the checks.
func (c *Client) Ready(ctx context.Context) (int, map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.URL()+"/ready", nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.s.HTTP().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Checks map[string]string `json:"checks"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET /ready: %d with body %s: %w", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out.Checks, nil
}

// ---------------------------------------------------------------------------
// Assertions.

// noErr fails the test on err.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantAPIError checks that err is an API answer with status and code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: got error %v; want %d %s", what, err, status, code)
		return
	}
	if ae.Status != status || ae.Code != code {
		t.Errorf("%s: got %d %q (body %s); want %d %q", what, ae.Status, ae.Code, ae.Body, status, code)
	}
}
