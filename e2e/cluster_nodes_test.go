package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// clusterView is the body of GET /cluster.
type clusterView struct {
	Node  string `json:"node"`
	Nodes []struct {
		Name        string    `json:"name"`
		Roles       []string  `json:"roles"`
		Addr        string    `json:"addr"`
		Canvases    int       `json:"canvases"`
		Connections int       `json:"connections"`
		LastSeen    time.Time `json:"last_seen"`
	} `json:"nodes"`
}

// getCluster asks s for GET /cluster, with token as its bearer when set,
// and returns the status and the body.
func getCluster(t *testing.T, s *Sker, token string) (int, clusterView) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/cluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v clusterView
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("GET /cluster: %v", err)
		}
	}
	return resp.StatusCode, v
}

// waitNodeNames polls s's GET /cluster for up to within until it lists
// exactly want, and returns the last view.
func waitNodeNames(t *testing.T, s *Sker, within time.Duration, want ...string) clusterView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, v := getCluster(t, s, "")
		var got []string
		for _, n := range v.Nodes {
			got = append(got, n.Name)
		}
		if code == http.StatusOK && slices.Equal(got, want) || time.Now().After(deadline) {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func nodeNames(v clusterView) []string {
	var out []string
	for _, n := range v.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// TestClusterListsItsNodes: in a cluster of three sker processes, GET
// /cluster on each lists all three, with their names, roles and HTTP
// addresses; after kill -9 of one, the other two drop it within the
// membership's timeout (3 s) and a heartbeat's slack.
func TestClusterListsItsNodes(t *testing.T) {
	nodes := startCluster(t, 3, 1)
	all := []string{"node-1", "node-2", "node-3"}
	addrs := map[string]string{}
	for i, s := range nodes {
		addrs[all[i]] = strings.TrimPrefix(s.URL(), "http://")
	}
	for i, s := range nodes {
		v := waitNodeNames(t, s, 10*time.Second, all...)
		if v.Node != all[i] || !slices.Equal(nodeNames(v), all) {
			t.Fatalf("GET /cluster on %s: got node %q listing %v; want %s listing %v", all[i], v.Node, nodeNames(v), all[i], all)
		}
		for _, n := range v.Nodes {
			if n.Addr != addrs[n.Name] || !slices.Equal(n.Roles, []string{"gateway", "canvases", "ai", "bridge"}) || n.LastSeen.IsZero() {
				t.Errorf("GET /cluster on %s, node %s: got addr %q, roles %v, last seen %v; want addr %q, every role, a time",
					all[i], n.Name, n.Addr, n.Roles, n.LastSeen, addrs[n.Name])
			}
		}
	}
	nodes[1].Kill()
	for _, i := range []int{0, 2} {
		v := waitNodeNames(t, nodes[i], 5*time.Second, "node-1", "node-3")
		if got := nodeNames(v); !slices.Equal(got, []string{"node-1", "node-3"}) {
			t.Errorf("GET /cluster on %s 5s after kill -9 of node-2: got %v; want [node-1 node-3]", all[i], got)
		}
	}
}

// TestClusterViewNeedsOpsToken: with OPS_TOKEN set, GET /cluster without
// it, or with another, is 404 even from loopback, and 200 with it.
func TestClusterViewNeedsOpsToken(t *testing.T) {
	const token = "cluster-view-token-0123456789"
	s := StartSker(t, Options{Env: map[string]string{"OPS_TOKEN": token, "NODE_NAME": "solo"}})
	for _, bad := range []string{"", "cluster-view-token-wrong-value"} {
		if code, _ := getCluster(t, s, bad); code != http.StatusNotFound {
			t.Errorf("GET /cluster with token %q: got %d; want 404", bad, code)
		}
	}
	code, v := getCluster(t, s, token)
	if code != http.StatusOK || v.Node != "solo" {
		t.Fatalf("GET /cluster with the token: got %d, node %q; want 200, solo", code, v.Node)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(v.Nodes) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		_, v = getCluster(t, s, token)
	}
	if got := nodeNames(v); !slices.Equal(got, []string{"solo"}) {
		t.Errorf("GET /cluster with the token: listed %v; want [solo]", got)
	}
}
