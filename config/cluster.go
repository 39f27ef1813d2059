package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// namePattern is what a node or cluster may be called: nats-server puts
// both in subjects and file names.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func nodeName(c *Config, v string) error {
	if v == "" {
		host, err := os.Hostname()
		if err != nil || !namePattern.MatchString(host) {
			return fmt.Errorf("the host name %q cannot name a node; set NODE_NAME to 1 to 64 letters, digits, '_', '.' or '-'", host)
		}
		v = host
	}
	if !namePattern.MatchString(v) {
		return fmt.Errorf("want 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit, got %q", v)
	}
	c.NodeName = v
	return nil
}

func clusterName(c *Config, v string) error {
	if !namePattern.MatchString(v) {
		return fmt.Errorf("want 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit, got %q", v)
	}
	c.NatsClusterName = v
	return nil
}

// checkHostPort accepts host:port with a port 0-65535 (0: a free port).
func checkHostPort(v string) error {
	_, p, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", v)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want a port number 0-65535 in %q", v)
	}
	return nil
}

func hostPort(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if err := checkHostPort(v); err != nil {
				return err
			}
		}
		*dst(c) = v
		return nil
	}
}

func routes(c *Config, v string) error {
	c.NatsClusterRoutes = nil
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if err := checkHostPort(strings.TrimPrefix(r, "nats-route://")); err != nil {
			return err
		}
		c.NatsClusterRoutes = append(c.NatsClusterRoutes, r)
	}
	return nil
}

func journalReplicas(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		return fmt.Errorf("want a number of copies from 1 to 5, got %q", v)
	}
	c.JournalReplicas = n
	return nil
}

// Clustered reports whether this node forms a NATS cluster with others
// through its embedded server's routes.
func (c Config) Clustered() bool { return c.NatsClusterListen != "" }

// finishCluster checks the cluster settings together. The nodes of a
// cluster share one store: the embedded SQLite is per node, so a clustered
// node without DATABASE_URL would serve canvases the others cannot see.
func (c *Config) finishCluster() error {
	if len(c.NatsClusterRoutes) > 0 && !c.Clustered() {
		return errors.New("config: NATS_CLUSTER_ROUTES: needs NATS_CLUSTER_LISTEN, the address on which the other nodes reach this one")
	}
	if c.Clustered() && c.NatsURL != "" {
		return errors.New("config: NATS_CLUSTER_LISTEN: clusters the embedded NATS server, which NATS_URL replaces; set one of them")
	}
	if c.Clustered() && c.DatabaseURL == "" {
		return errors.New("config: NATS_CLUSTER_LISTEN: the nodes of a cluster share one PostgreSQL store; set DATABASE_URL (the embedded SQLite store is per node)")
	}
	if c.JournalReplicas > 1 && !c.Clustered() && c.NatsURL == "" {
		return fmt.Errorf("config: JOURNAL_REPLICAS: %d copies need a NATS cluster (NATS_CLUSTER_LISTEN, or NATS_URL of a clustered NATS)", c.JournalReplicas)
	}
	return nil
}

// Roles is what SKER_ROLES may list; "all" is every one of them.
var Roles = []string{"gateway", "canvases", "ai", "bridge"}

// roles reads SKER_ROLES: "all", or a comma list of Roles, kept in the
// order of Roles, each once.
func roles(c *Config, v string) error {
	if strings.TrimSpace(v) == "all" {
		c.Roles = append([]string(nil), Roles...)
		return nil
	}
	seen := map[string]bool{}
	for _, r := range strings.Split(v, ",") {
		r = strings.TrimSpace(r)
		if !slices.Contains(Roles, r) {
			return fmt.Errorf("want all, or a comma list of gateway, canvases, ai and bridge, got %q", v)
		}
		seen[r] = true
	}
	c.Roles = nil
	for _, r := range Roles {
		if seen[r] {
			c.Roles = append(c.Roles, r)
		}
	}
	return nil
}
