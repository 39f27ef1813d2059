package presence

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerhq/sker/testkit"
)

func users(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Node+"/"+e.Session+"/"+e.User)
	}
	return out
}

func TestLocal(t *testing.T) {
	l := NewLocal("node-a")
	l.Joined("c1", "s1", "ann")
	l.Joined("c1", "s2", "bob")
	l.Joined("c2", "s1", "ann")
	l.Left("c2", "s1")
	l.Left("c3", "nobody") // nothing there: no effect
	got, err := l.Here(t.Context(), []string{"c1", "c2", "c3"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"node-a/s1/ann", "node-a/s2/bob"}; !slices.Equal(users(got["c1"]), want) {
		t.Fatalf("c1: %v; want %v", users(got["c1"]), want)
	}
	if len(got["c2"]) != 0 || len(got["c3"]) != 0 || len(got) != 1 {
		t.Fatalf("got %v; want only c1", got)
	}
}

// waitHere polls d until canvasID lists want, for up to 5 s.
func waitHere(t *testing.T, d Directory, canvasID string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := d.Here(t.Context(), []string{canvasID})
		if err == nil && slices.Equal(users(got[canvasID]), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lists %v (err %v); want %v", canvasID, users(got[canvasID]), err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisAcrossNodes: two nodes on one Redis see each other's
// connections; a leave is seen at once; the entries of a node that stops
// without a word (it died) vanish after the TTL, those of a node that
// closes at once.
func TestRedisAcrossNodes(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	open := func(node string, ttl time.Duration) *Redis {
		d := NewRedis(RedisConfig{Client: rdb, Prefix: prefix, Node: node, TTL: ttl})
		t.Cleanup(func() { _ = d.Close(context.Background()) })
		return d
	}
	a, b := open("node-a", time.Second), open("node-b", time.Second)
	a.Joined("c1", "s1", "ann")
	b.Joined("c1", "s2", "bob")
	b.Joined("c2", "s3", "bob")
	waitHere(t, a, "c1", "node-a/s1/ann", "node-b/s2/bob")
	waitHere(t, b, "c1", "node-a/s1/ann", "node-b/s2/bob")
	waitHere(t, a, "c2", "node-b/s3/bob")
	time.Sleep(1500 * time.Millisecond) // past one TTL: the renewals kept them
	waitHere(t, a, "c1", "node-a/s1/ann", "node-b/s2/bob")

	b.Left("c1", "s2")
	waitHere(t, a, "c1", "node-a/s1/ann")

	dead := open("node-dead", time.Second)
	dead.Joined("c1", "s9", "cy")
	waitHere(t, a, "c1", "node-a/s1/ann", "node-dead/s9/cy")
	dead.once.Do(func() { close(dead.stop) }) // stops renewing, removes nothing
	<-dead.done
	waitHere(t, a, "c1", "node-a/s1/ann") // within the TTL and waitHere's 5 s

	if err := b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitHere(t, a, "c2")

	// A leave still queued when the node closes is written.
	c := open("node-c", time.Minute)
	c.Joined("c5", "s5", "ann")
	waitHere(t, a, "c5", "node-c/s5/ann")
	c.Left("c5", "s5")
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Here(t.Context(), []string{"c5"}); err != nil || len(got["c5"]) != 0 {
		t.Fatalf("after node-c left and closed: %v, %v; want nobody", users(got["c5"]), err)
	}
}

// TestRedisDown: with a Redis that does not answer, Here answers this
// node's own connections and an error, within the timeout; nothing
// blocks.
func TestRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	d := NewRedis(RedisConfig{Client: rdb, Prefix: "sker_test_down:", Node: "node-a", Timeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = d.Close(context.Background()) })

	t0 := time.Now()
	for i := range 100 {
		d.Joined("c1", "s"+string(rune('a'+i%26)), "ann")
	}
	if took := time.Since(t0); took > time.Second {
		t.Fatalf("100 joins took %v with Redis down; want them not to wait on it", took)
	}
	t0 = time.Now()
	got, err := d.Here(t.Context(), []string{"c1"})
	if err == nil {
		t.Fatal("Here with Redis down: no error; want one saying the answer is partial")
	}
	if took := time.Since(t0); took > 5*time.Second {
		t.Fatalf("Here with Redis down took %v", took)
	}
	if len(got["c1"]) != 26 {
		t.Fatalf("Here with Redis down listed %d entries; want this node's 26", len(got["c1"]))
	}
}
