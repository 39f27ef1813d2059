package embednats

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// freeAddr is a loopback host:port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestThreeNodesFormOneJetStreamCluster: three embedded servers given each
// other's routes (each list naming itself too) form one NATS cluster whose
// JetStream keeps a stream of three replicas; a message published through
// one node is read through another, and the stream survives one node's
// shutdown.
func TestThreeNodesFormOneJetStreamCluster(t *testing.T) {
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	servers := make([]*Server, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			servers[i], errs[i] = Start(ctx, Config{
				DataDir: t.TempDir(), ServerName: fmt.Sprintf("node-%d", i+1),
				ClusterListen: routes[i], ClusterRoutes: routes, ClusterName: "sker-test",
			}, testLogger(t))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(servers[i].Shutdown)
		if got, want := servers[i].ClusterURL(), "nats-route://"+routes[i]; got != want {
			t.Errorf("node %d ClusterURL: got %s; want %s", i+1, got, want)
		}
	}
	js1, err := jetstream.New(connect(t, servers[0]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stream jetstream.Stream
	for {
		attempt, stop := context.WithTimeout(ctx, 2*time.Second)
		stream, err = js1.CreateStream(attempt, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
		stop()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create a stream of 3 replicas: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the meta leader is being elected
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.Cluster.Replicas) + 1; n != 3 || info.Cluster.Name != "sker-test" {
		t.Fatalf("stream cluster: got %d copies in %q; want 3 in sker-test", n, info.Cluster.Name)
	}
	if _, err := js1.Publish(ctx, "r3.a", []byte("one")); err != nil {
		t.Fatal(err)
	}

	// Stop the node that published; the other two still hold the message.
	servers[0].Shutdown()
	js2, err := jetstream.New(connect(t, servers[1]))
	if err != nil {
		t.Fatal(err)
	}
	for {
		attempt, stop := context.WithTimeout(ctx, 2*time.Second)
		msg, err := js2.Stream(attempt, "R3")
		if err == nil {
			var raw *jetstream.RawStreamMsg
			if raw, err = msg.GetMsg(attempt, 1); err == nil {
				stop()
				if string(raw.Data) != "one" {
					t.Fatalf("message 1 on node 2: got %q; want one", raw.Data)
				}
				break
			}
		}
		stop()
		if ctx.Err() != nil {
			t.Fatalf("read the message through node 2 after node 1 stopped: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClusterSettingsChecked(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{DataDir: "x", ClusterRoutes: []string{"127.0.0.1:6222"}}, "need a ClusterListen"},
		{Config{DataDir: "x", ClusterListen: "nowhere"}, "ClusterListen"},
		{Config{DataDir: "x", ClusterListen: "127.0.0.1:0", ClusterRoutes: []string{"no-port"}}, "ClusterRoutes"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v): got %v; want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}
