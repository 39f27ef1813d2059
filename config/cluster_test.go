package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestClusterSettings: a single node by default, named for its host; the
// cluster settings are read as given.
func TestClusterSettings(t *testing.T) {
	c, _, err := Load(nil, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if c.Clustered() || c.NodeName != host || c.NatsClusterName != "sker" || c.JournalReplicas != 1 || c.NatsClusterRoutes != nil {
		t.Fatalf("defaults: got clustered %v, node %q, cluster %q, replicas %d, routes %v; want a single node named %q",
			c.Clustered(), c.NodeName, c.NatsClusterName, c.JournalReplicas, c.NatsClusterRoutes, host)
	}
	c, _, err = Load([]string{"--node-name=node-2"}, env(map[string]string{
		"DATABASE_URL":        "postgres://h/sker",
		"NATS_CLUSTER_LISTEN": "127.0.0.1:6222",
		"NATS_CLUSTER_ROUTES": "127.0.0.1:6222, 127.0.0.1:6223,nats-route://127.0.0.1:6224",
		"NATS_CLUSTER_NAME":   "prod-eu",
		"JOURNAL_REPLICAS":    "3",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:6222", "127.0.0.1:6223", "nats-route://127.0.0.1:6224"}
	if !c.Clustered() || c.NodeName != "node-2" || c.NatsClusterListen != "127.0.0.1:6222" || c.NatsClusterName != "prod-eu" ||
		c.JournalReplicas != 3 || !slices.Equal(c.NatsClusterRoutes, want) {
		t.Fatalf("set: got %q %q %q %d %v", c.NodeName, c.NatsClusterListen, c.NatsClusterName, c.JournalReplicas, c.NatsClusterRoutes)
	}
}

// TestClusterBadValues: each bad value, and each combination that cannot
// work, stops start-up with an error naming the variable.
func TestClusterBadValues(t *testing.T) {
	pg := "postgres://h/sker"
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"NODE_NAME": "a b"}, "NODE_NAME"},
		{map[string]string{"NODE_NAME": "-x"}, "NODE_NAME"},
		{map[string]string{"NATS_CLUSTER_NAME": "a.b c"}, "NATS_CLUSTER_NAME"},
		{map[string]string{"NATS_CLUSTER_LISTEN": "6222", "DATABASE_URL": pg}, "NATS_CLUSTER_LISTEN"},
		{map[string]string{"NATS_CLUSTER_ROUTES": "127.0.0.1:99999"}, "NATS_CLUSTER_ROUTES"},
		{map[string]string{"JOURNAL_REPLICAS": "0"}, "JOURNAL_REPLICAS"},
		{map[string]string{"JOURNAL_REPLICAS": "three"}, "JOURNAL_REPLICAS"},
		{map[string]string{"JOURNAL_REPLICAS": "3"}, "JOURNAL_REPLICAS"},
		{map[string]string{"NATS_CLUSTER_ROUTES": "127.0.0.1:6223"}, "NATS_CLUSTER_ROUTES"},
		{map[string]string{"NATS_CLUSTER_LISTEN": "127.0.0.1:6222"}, "DATABASE_URL"},
		{map[string]string{"NATS_CLUSTER_LISTEN": "127.0.0.1:6222", "DATABASE_URL": pg, "NATS_URL": "nats://h:4222"}, "NATS_URL"},
	} {
		_, _, err := Load(nil, env(tc.env), "")
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: got %v; want an error naming %s", tc.env, err, tc.name)
		}
	}
}
