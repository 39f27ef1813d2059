package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/testkit"
)

const (
	testInterval = 50 * time.Millisecond
	testTimeout  = 300 * time.Millisecond
)

func startNode(t *testing.T, ns *server.Server, name string, roles ...string) *Membership {
	t.Helper()
	nc, _ := testkit.Connect(t, ns)
	m, err := New(Config{
		Conn: nc, Name: name, Roles: roles, Addr: "127.0.0.1:" + name,
		Stats:    func(context.Context) (Stats, error) { return Stats{Canvases: len(name), Connections: 7}, nil },
		Interval: testInterval, Timeout: testTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

// waitNodes waits up to within for m to see exactly want, and returns
// what it saw last.
func waitNodes(m *Membership, within time.Duration, want ...string) []string {
	deadline := time.Now().Add(within)
	for {
		got := names(m.Nodes())
		if slices.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMembersSeeEachOther: three nodes on one NATS server each list all
// three, with what each announced.
func TestMembersSeeEachOther(t *testing.T) {
	ns := testkit.NATSServer(t)
	a := startNode(t, ns, "a", RoleGateway, RoleCanvases, RoleAI)
	b := startNode(t, ns, "bb", RoleCanvases)
	c := startNode(t, ns, "ccc", RoleGateway)
	for _, m := range []*Membership{a, b, c} {
		if got := waitNodes(m, 2*time.Second, "a", "bb", "ccc"); !slices.Equal(got, []string{"a", "bb", "ccc"}) {
			t.Errorf("%s sees %v; want [a bb ccc]", m.Name(), got)
		}
	}
	for _, n := range c.Nodes() {
		if n.Addr != "127.0.0.1:"+n.Name || n.Canvases != len(n.Name) || n.Connections != 7 || n.LastSeen.IsZero() {
			t.Errorf("node %s: got addr %q, %d canvases, %d connections, last seen %v; want 127.0.0.1:%s, %d, 7, a time",
				n.Name, n.Addr, n.Canvases, n.Connections, n.LastSeen, n.Name, len(n.Name))
		}
	}
	if got := a.Live(RoleCanvases); !slices.Equal(got, []string{"a", "bb"}) {
		t.Errorf("Live(canvases): got %v; want [a bb]", got)
	}
}

// TestMemberGoneWhenSilent: a node that stops announcing without a leave
// (its connection closed, as when its process is killed) is dropped by the
// others within Timeout.
func TestMemberGoneWhenSilent(t *testing.T) {
	ns := testkit.NATSServer(t)
	a := startNode(t, ns, "a", RoleCanvases)
	nc, _ := testkit.Connect(t, ns)
	b, err := New(Config{Conn: nc, Name: "b", Interval: testInterval, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := waitNodes(a, 2*time.Second, "a", "b"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("a sees %v; want [a b]", got)
	}
	nc.Close() // b's heartbeats stop, with no leave
	// Within Timeout plus a heartbeat's slack, b is gone.
	if got := waitNodes(a, testTimeout+2*testInterval, "a"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("%s after b went silent: a sees %v; want [a]", testTimeout+2*testInterval, got)
	}
}

// TestMemberLeaveDropsAtOnce: a node that stops cleanly announces that it
// leaves, and the others drop it long before Timeout.
func TestMemberLeaveDropsAtOnce(t *testing.T) {
	ns := testkit.NATSServer(t)
	nc, _ := testkit.Connect(t, ns)
	a, err := New(Config{Conn: nc, Name: "a", Interval: time.Second, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Stop(context.Background()) }()
	nc2, _ := testkit.Connect(t, ns)
	b, err := New(Config{Conn: nc2, Name: "b", Interval: time.Second, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := waitNodes(a, 2*time.Second, "a", "b"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("a sees %v; want [a b]", got)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A minute's Timeout: only the leave can drop b in these 2 seconds.
	if got := waitNodes(a, 2*time.Second, "a"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after b left: a sees %v; want [a]", got)
	}
}

// TestMembersOfOtherPrefixesApart: deployments with different NATS_PREFIX
// on one NATS system do not see each other's nodes.
func TestMembersOfOtherPrefixesApart(t *testing.T) {
	ns := testkit.NATSServer(t)
	a := startNode(t, ns, "a")
	other, err := natsname.New("OTHER")
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := testkit.Connect(t, ns)
	b, err := New(Config{Conn: nc, Names: other, Name: "b", Interval: testInterval, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Stop(context.Background()) }()
	time.Sleep(3 * testInterval)
	if got := names(a.Nodes()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("SKER's a sees %v; want [a]", got)
	}
	if got := names(b.Nodes()); !slices.Equal(got, []string{"b"}) {
		t.Errorf("OTHER's b sees %v; want [b]", got)
	}
}

// TestMemberLeaveKeepsHearing: after Leave, a node no longer counts itself
// among the live nodes (its canvases go elsewhere), the others drop it,
// and it still hears them until Stop, so that it knows where its
// canvases go.
func TestMemberLeaveKeepsHearing(t *testing.T) {
	ns := testkit.NATSServer(t)
	a := startNode(t, ns, "a")
	b := startNode(t, ns, "b")
	if got := waitNodes(b, 2*time.Second, "a", "b"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("b sees %v; want [a b]", got)
	}
	if err := b.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := waitNodes(a, 2*time.Second, "a"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after b left: a sees %v; want [a]", got)
	}
	// a keeps announcing; b keeps hearing it, and never itself again.
	time.Sleep(3 * testInterval)
	if got := names(b.Nodes()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("b after its Leave, %v later: sees %v; want [a]", 3*testInterval, got)
	}
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
