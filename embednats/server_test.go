package embednats

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestJournalSurvivesRestart appends to a file-backed stream with the
// per-subject sequence fence SKER's journal uses, restarts the server on
// the same folder and finds the acknowledged messages and the fence intact.
func TestJournalSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const subject = "journal.canvas-1"

	first, err := Start(ctx, Config{DataDir: dir}, testLogger(t))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	nc := connect(t, first)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "JOURNAL", Subjects: []string{"journal.>"}, Storage: jetstream.FileStorage,
	})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	ack, err := js.Publish(ctx, subject, []byte("op-1"), jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil {
		t.Fatalf("first fenced publish: %v", err)
	}
	if ack.Sequence != 1 {
		t.Fatalf("first publish: got sequence %d; want 1", ack.Sequence)
	}
	_, err = js.Publish(ctx, subject, []byte("stale"), jetstream.WithExpectLastSequencePerSubject(0))
	assertWrongLastSequence(t, err)
	if _, err := js.Publish(ctx, subject, []byte("op-2"), jetstream.WithExpectLastSequencePerSubject(1)); err != nil {
		t.Fatalf("second fenced publish: %v", err)
	}
	nc.Close()
	first.Shutdown()

	if fi, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil || !fi.IsDir() {
		t.Fatalf("got no folder %s/jetstream (err %v); want JetStream's files there", dir, err)
	}

	second := startServer(t, Config{DataDir: dir})
	js, err = jetstream.New(connect(t, second))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, "JOURNAL")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("last message after restart: %v", err)
	}
	if string(msg.Data) != "op-2" || msg.Sequence != 2 {
		t.Fatalf("after restart: got %q at sequence %d; want \"op-2\" at 2", msg.Data, msg.Sequence)
	}
	_, err = js.Publish(ctx, subject, []byte("stale"), jetstream.WithExpectLastSequencePerSubject(1))
	assertWrongLastSequence(t, err)
}

func assertWrongLastSequence(t *testing.T, err error) {
	t.Helper()
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		t.Fatalf("publish with a wrong expected sequence: got error %v; want API error %d",
			err, jetstream.JSErrCodeStreamWrongLastSequence)
	}
}

// TestConfigFileApplied checks that a nats.conf's settings reach the
// server and that the explicit fields win over it.
func TestConfigFileApplied(t *testing.T) {
	conf := writeFile(t, "nats.conf", `
server_name: from-file
max_payload: 64KB
jetstream {
  max_file_store: 1GB
  sync_interval: 5s
}
`)
	tests := []struct {
		name           string
		cfg            Config
		wantName       string
		wantSyncAlways bool
	}{
		{"file only", Config{ConfigFile: conf}, "from-file", false},
		{"fields override", Config{ConfigFile: conf, ServerName: "explicit", SyncAlways: true}, "explicit", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DataDir = t.TempDir()
			s := startServer(t, tt.cfg)
			nc := connect(t, s)
			if got := nc.MaxPayload(); got != 64*1024 {
				t.Errorf("max payload: got %d; want %d", got, 64*1024)
			}
			if got := nc.ConnectedServerName(); got != tt.wantName {
				t.Errorf("server name: got %q; want %q", got, tt.wantName)
			}
			jsc := s.ns.JetStreamConfig()
			if jsc.MaxStore != 1<<30 {
				t.Errorf("max_file_store: got %d; want %d", jsc.MaxStore, 1<<30)
			}
			if jsc.SyncInterval != 5*time.Second {
				t.Errorf("sync_interval: got %v; want 5s", jsc.SyncInterval)
			}
			if jsc.SyncAlways != tt.wantSyncAlways {
				t.Errorf("sync always: got %t; want %t", jsc.SyncAlways, tt.wantSyncAlways)
			}
		})
	}
}

// TestConfigFileStoreDirWins checks that jetstream.store_dir in the file
// beats DataDir, as documented.
func TestConfigFileStoreDirWins(t *testing.T) {
	storeDir := t.TempDir()
	conf := writeFile(t, "nats.conf", "jetstream {\n  store_dir: "+strconv.Quote(storeDir)+"\n}\n")
	dataDir := t.TempDir()
	s := startServer(t, Config{DataDir: dataDir, ConfigFile: conf})
	if want := filepath.Join(storeDir, "jetstream"); s.StoreDir() != want {
		t.Fatalf("StoreDir: got %q; want %q", s.StoreDir(), want)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "jetstream")); !os.IsNotExist(err) {
		t.Fatalf("DataDir/jetstream: got stat error %v; want it not to exist", err)
	}
}

// TestRepoNatsConf parses the nats.conf shipped at the repository root and
// starts a server with it.
func TestRepoNatsConf(t *testing.T) {
	const path = "../nats.conf"
	s := startServer(t, Config{DataDir: t.TempDir(), ConfigFile: path})
	if got := s.ClientURL(); got != "" {
		t.Errorf("ClientURL with the shipped nats.conf: got %q; want \"\" (in-process only by default)", got)
	}
	jsc := s.ns.JetStreamConfig()
	if jsc.MaxStore != 10<<30 || jsc.MaxMemory != 256<<20 {
		t.Errorf("limits: got max_file_store %d, max_memory_store %d; want %d, %d", jsc.MaxStore, jsc.MaxMemory, 10<<30, 256<<20)
	}
	if jsc.SyncInterval != 10*time.Second || jsc.SyncAlways {
		t.Errorf("sync: got interval %v, always %t; want 10s, false", jsc.SyncInterval, jsc.SyncAlways)
	}
	if got := connect(t, s).ConnectedServerName(); got != "sker" {
		t.Errorf("server name: got %q; want \"sker\"", got)
	}
}

// TestNoTCPListenerByDefault checks that without Listen the server opens
// no TCP port: only in-process connections work.
func TestNoTCPListenerByDefault(t *testing.T) {
	before, procOK := ownListeningTCPPorts(t)
	s := startServer(t, Config{DataDir: t.TempDir()})
	connect(t, s) // in-process still works
	if got := s.ClientURL(); got != "" {
		t.Errorf("ClientURL: got %q; want \"\"", got)
	}
	if addr := s.ns.Addr(); addr != nil {
		t.Errorf("listener address: got %v; want none", addr)
	}
	if !procOK {
		return // the checks above are all this platform allows
	}
	after, _ := ownListeningTCPPorts(t)
	for port := range after {
		if !before[port] {
			t.Errorf("process listens on TCP port %d after Start; want no new listener", port)
		}
	}
}

// TestListen checks that a Listen address opens a TCP port that clients
// reach through ClientURL (and that the /proc check above would see it).
func TestListen(t *testing.T) {
	s := startServer(t, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	u, err := url.Parse(s.ClientURL())
	if err != nil || u.Scheme != "nats" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "4222" {
		t.Fatalf("ClientURL: got %q; want nats://127.0.0.1:<free port>", s.ClientURL())
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect over TCP to %s: %v", s.ClientURL(), err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush over TCP: %v", err)
	}
	if ports, ok := ownListeningTCPPorts(t); ok {
		port, _ := strconv.Atoi(u.Port())
		if !ports[port] {
			t.Errorf("listening ports from /proc: got %v; want them to include %d", ports, port)
		}
	}
}

// TestStartErrors checks that bad settings fail Start with a message that
// names the problem, promptly and without leaving a server behind.
func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	badConf := writeFile(t, "bad.conf", "jetstream { max_file_store: lots }\n")
	notADir := writeFile(t, "data", "a file where the data folder should be\n")
	tests := []struct {
		name    string
		cfg     Config
		want    string
		wantErr error
	}{
		{"no data dir", Config{}, "DataDir: required", nil},
		{"bad listen", Config{DataDir: t.TempDir(), Listen: "4222"}, "Listen: want host:port", nil},
		{"bad port", Config{DataDir: t.TempDir(), Listen: "127.0.0.1:http"}, "Listen: want a port number", nil},
		{"missing config file", Config{DataDir: t.TempDir(), ConfigFile: "/nonexistent/nats.conf"}, "config file /nonexistent/nats.conf", nil},
		{"bad config file", Config{DataDir: t.TempDir(), ConfigFile: badConf}, "max_file_store", nil},
		{"port in use", Config{DataDir: t.TempDir(), Listen: busy.Addr().String()}, "address already in use", ErrNotReady},
		{"data dir is a file", Config{DataDir: notADir}, "JetStream", ErrNotReady},
		{"negative timeout", Config{DataDir: t.TempDir(), ReadyTimeout: -time.Second}, "ReadyTimeout", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			s, err := Start(t.Context(), tt.cfg, testLogger(t))
			if err == nil {
				s.Shutdown()
				t.Fatalf("Start: got no error; want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: got error %q; want it to contain %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Start: got error %v; want errors.Is %v", err, tt.wantErr)
			}
			if took := time.Since(began); took > 10*time.Second {
				t.Errorf("Start took %v to fail; want it to fail fast", took)
			}
		})
	}
}

// TestStartCanceled checks that Start gives up when its context ends.
func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Start(ctx, Config{DataDir: t.TempDir()}, testLogger(t))
	if err == nil {
		s.Shutdown()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a canceled context: got %v; want context.Canceled", err)
	}
}

// TestShutdownTwice checks that Shutdown is idempotent and closes clients.
func TestShutdownTwice(t *testing.T) {
	s := startServer(t, Config{DataDir: t.TempDir()})
	closed := make(chan struct{})
	nc, err := s.Conn(nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s.Shutdown()
	s.Shutdown()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatalf("connection 5s after Shutdown: got status %v; want closed", nc.Status())
	}
}
