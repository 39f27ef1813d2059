package testkit

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a redis-server of the test's own, a child process on a
// free loopback port, for tests of what SKER does while Redis is gone:
// Stop kills it (connections are refused), Pause freezes it (connections
// hang), and Start brings it back on the same port, empty. It is killed
// when the test ends. The machine's Redis (Redis) is left alone.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd // nil while stopped
}

// StartRedisServer starts redis-server (from PATH) without persistence on
// a free port and waits until it answers.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testkit: redis-server is not installed (%v); install it with\n\tapt-get install redis-server", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: redis-server: free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &RedisServer{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.kill)
	s.Start()
	return s
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL, as REDIS_URL takes it.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server on its port, again after Stop, and waits up to
// 10 s until it answers PING.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", s.dir, "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testkit: start redis-server on port %d: %v", s.port, err)
	}
	s.cmd = cmd
	if err := s.waitPing(10 * time.Second); err != nil {
		s.t.Fatalf("testkit: redis-server on port %d does not answer: %v", s.port, err)
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit: connections to its port are refused until Start.
func (s *RedisServer) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Pause freezes the server (SIGSTOP): it keeps its port, connections are
// accepted by the kernel and nothing answers, as with a hung Redis or a
// network that drops packets. Resume lets it go on.
func (s *RedisServer) Pause() { s.signal(syscall.SIGSTOP) }

// Resume ends a Pause.
func (s *RedisServer) Resume() { s.signal(syscall.SIGCONT) }

func (s *RedisServer) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("testkit: redis-server on port %d is not running", s.port)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("testkit: signal %v to redis-server: %v", sig, err)
	}
}

// kill stops the server at the end of the test, paused or not.
func (s *RedisServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *RedisServer) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// waitPing asks PING until the server answers or d has passed.
func (s *RedisServer) waitPing(d time.Duration) error {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Client is a client of the server with short timeouts (500 ms), closed
// when the test ends.
func (s *RedisServer) Client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr: s.Addr(), DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, PoolTimeout: time.Second, MaxRetries: -1, DialerRetries: 1,
	})
	s.t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
