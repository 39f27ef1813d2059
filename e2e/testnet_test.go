package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// testNet is a network of the test's own, so that traffic between sker
// nodes can really be cut: a network namespace per host, each with one
// veth to a bridge in the test's own namespace. The test reaches every
// host through the bridge; a host reaches what runs in the test's
// namespace (PostgreSQL, through forward) at the bridge's address.
// Everything is removed when the test ends.
//
// It needs iproute2's ip and the right to make namespaces (root).
type testNet struct {
	t      *testing.T
	id     string // a few hex digits, in every name
	subnet string // "10.213.K"
	hosts  int
}

// newTestNet makes a network of n hosts.
func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the network tests need ip from iproute2 (apt-get install iproute2) and root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	nw := &testNet{t: t, id: hex.EncodeToString(b), hosts: n}
	nw.subnet = nw.freeSubnet()

	bridge := nw.bridge()
	nw.ip("link", "add", bridge, "type", "bridge")
	t.Cleanup(func() { nw.ipQuiet("link", "del", bridge) })
	nw.ip("addr", "add", nw.Gateway()+"/24", "dev", bridge)
	nw.ip("link", "set", bridge, "up")
	for i := range n {
		ns, outside, inside := nw.NS(i), fmt.Sprintf("skv%s%d", nw.id, i), fmt.Sprintf("skp%s%d", nw.id, i)
		nw.ip("netns", "add", ns)
		t.Cleanup(func() { nw.ipQuiet("netns", "del", ns) }) // removes the veth too
		nw.ip("link", "add", outside, "type", "veth", "peer", "name", inside)
		nw.ip("link", "set", outside, "master", bridge, "up")
		nw.ip("link", "set", inside, "netns", ns)
		nw.ip("-n", ns, "link", "set", inside, "name", "eth0")
		nw.ip("-n", ns, "addr", "add", nw.IP(i)+"/24", "dev", "eth0")
		nw.ip("-n", ns, "link", "set", "eth0", "up")
		nw.ip("-n", ns, "link", "set", "lo", "up")
	}
	return nw
}

// freeSubnet picks a 10.213.K.0/24 that no interface of the machine uses.
func (nw *testNet) freeSubnet() string {
	out := nw.ip("-o", "-4", "addr")
	for range 50 {
		k, _ := rand.Int(rand.Reader, big.NewInt(250))
		subnet := fmt.Sprintf("10.213.%d", k.Int64()+1)
		if !strings.Contains(out, subnet+".") {
			return subnet
		}
	}
	nw.t.Fatal("testNet: no free 10.213.K.0/24")
	return ""
}

func (nw *testNet) bridge() string { return "skb" + nw.id }

// NS is host i's network namespace.
func (nw *testNet) NS(i int) string { return fmt.Sprintf("sker-%s-%d", nw.id, i) }

// IP is host i's address.
func (nw *testNet) IP(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, 11+i) }

// Gateway is the bridge's address, in the test's own namespace.
func (nw *testNet) Gateway() string { return nw.subnet + ".1" }

// Cut drops all traffic between host i and every other host, both ways;
// the test's namespace still reaches host i and host i still reaches it.
func (nw *testNet) Cut(i int) { nw.routes("add", i) }

// Heal undoes Cut.
func (nw *testNet) Heal(i int) { nw.routes("del", i) }

func (nw *testNet) routes(verb string, i int) {
	for j := range nw.hosts {
		if j != i {
			nw.ip("-n", nw.NS(i), "route", verb, "blackhole", nw.IP(j)+"/32")
			nw.ip("-n", nw.NS(j), "route", verb, "blackhole", nw.IP(i)+"/32")
		}
	}
}

// Forward relays TCP connections to the bridge's address, on a free port,
// to target in the test's namespace (such as PostgreSQL on loopback), and
// returns the address the hosts dial. It stops when the test ends.
func (nw *testNet) Forward(target string) string {
	ln, err := net.Listen("tcp", nw.Gateway()+":0")
	if err != nil {
		nw.t.Fatalf("testNet: forward: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	nw.t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return ln.Addr().String()
}

// ip runs `ip args...` and fails the test if it fails.
func (nw *testNet) ip(args ...string) string {
	nw.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		nw.t.Fatalf("ip %s: %v: %s (the network tests need root and iproute2)", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipQuiet runs `ip args...` in a cleanup, reporting a failure.
func (nw *testNet) ipQuiet(args ...string) {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		nw.t.Logf("cleanup: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
