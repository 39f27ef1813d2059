package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDoctorOnACluster: three nodes whose embedded NATS servers form one
// cluster with the journal at three replicas. With node-1 stopped, its
// doctor joins the cluster as the node would, checks the store against
// the replicated journal (no problem), and reports each stream with its
// replicas and leader: the journal at R3 led by a server of the cluster,
// with its followers named.
func TestDoctorOnACluster(t *testing.T) {
	nodes := startCluster(t, 3, 3)
	c := nodes[1].NewClient()
	_, err := c.Register(t.Context(), "doctor-cluster@example.com", "doctor-password", "Doctor")
	noErr(t, err)
	cv, err := c.CreateCanvas(t.Context(), "Doctor on a cluster")
	noErr(t, err)
	_, err = c.PostOps(t.Context(), cv.ID, "a", Op{Op: "node.add", ID: "n", Kind: "text", X: F(0), Y: F(0)})
	noErr(t, err)
	nodes[0].Kill() // its doctor then also runs after a crash

	type stream struct {
		Name     string `json:"name"`
		Replicas int    `json:"replicas"`
		Leader   string `json:"leader"`
		Peers    []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
		} `json:"peers"`
		Warning string `json:"warning"`
	}
	var rep struct {
		Problems  []json.RawMessage `json:"problems"`
		Remaining int               `json:"problems_remaining"`
		Streams   []stream          `json:"streams"`
	}
	// The doctor's server may need a moment to catch up with the others.
	var journal stream
	deadline := time.Now().Add(60 * time.Second)
	for {
		res := nodes[0].RunFor(90*time.Second, "doctor", "--json")
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &rep) != nil {
			t.Fatalf("sker doctor --json on a cluster: code %d, stdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		journal = stream{}
		for _, s := range rep.Streams {
			if s.Name == "SKER_JOURNAL" {
				journal = s
			}
		}
		if journal.Leader != "" && journal.Warning == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("streams: %+v", rep.Streams)
	if len(rep.Problems) != 0 || rep.Remaining != 0 {
		t.Fatalf("sker doctor on a healthy cluster: %+v; want no problem", rep)
	}
	if journal.Replicas != 3 || !strings.HasPrefix(journal.Leader, "node-") || len(journal.Peers) != 2 || journal.Warning != "" {
		t.Fatalf("the journal stream as the doctor reports it: %+v; want R3, a node-N leader, two followers, no warning", journal)
	}
	res := nodes[0].RunFor(90*time.Second, "doctor")
	if res.Code != 0 || !strings.Contains(res.Stdout, "stream SKER_JOURNAL: R3, leader node-") {
		t.Fatalf("sker doctor on a cluster: code %d, stdout:\n%s", res.Code, res.Stdout)
	}
	t.Logf("sker doctor:\n%s", res.Stdout)
}
