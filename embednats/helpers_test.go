package embednats

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/skerhq/sker/testkit"
)

// testLogger returns a logger whose output is printed when the test fails.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &testkit.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nats-server log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts a server and shuts it down when the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Start(%+v): %v", cfg, err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect opens an in-process connection closed when the test ends.
func connect(t *testing.T, s *Server) *nats.Conn {
	t.Helper()
	nc, err := s.Conn()
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// writeFile writes content to name in a fresh temporary folder.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ownListeningTCPPorts lists the TCP ports this process listens on, from
// /proc (sockets this process holds, matched against the LISTEN rows of
// the kernel's TCP tables). ok is false where /proc is not available.
func ownListeningTCPPorts(t *testing.T) (ports map[int]bool, ok bool) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil, false
	}
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("read /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	ports = map[int]bool{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6 on this machine
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			const stateListen = "0A"
			if len(f) < 10 || f[3] != stateListen || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			port, err := strconv.ParseInt(hexPort, 16, 32)
			if err != nil {
				t.Fatalf("%s: bad local address %q", table, f[1])
			}
			ports[int(port)] = true
		}
	}
	return ports, true
}
