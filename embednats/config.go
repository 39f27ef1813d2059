package embednats

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures the embedded server. The settings come from ConfigFile
// first (when set); the fields below that are set (non-zero) override it.
// JetStream is always enabled and nats-server never installs signal
// handlers: the host process owns its signals.
type Config struct {
	// DataDir is SKER's data folder. nats-server keeps its JetStream files
	// in a "jetstream" folder inside the store directory it is given; the
	// store directory is DataDir, so the journal lives in DataDir/jetstream.
	// A store_dir in ConfigFile wins over DataDir. Required unless
	// ConfigFile sets store_dir.
	DataDir string

	// ConfigFile is an optional nats.conf path, read with
	// server.ProcessConfigFile. Empty means no file: the defaults below.
	ConfigFile string

	// Listen is the "host:port" the server accepts TCP clients on; port 0
	// picks a free port (see Server.ClientURL). Empty means the config
	// file's listen/port when it sets one, otherwise no TCP listener at
	// all (DontListen): only in-process connections through Server.Conn,
	// so tests and the default run never take port 4222.
	Listen string

	// ServerName names the server (and the node, in a cluster). Empty
	// means the config file's server_name, otherwise nats-server's
	// generated server ID.
	ServerName string

	// SyncAlways makes JetStream fsync every write before it acknowledges
	// it (jetstream { sync_interval: always }). Without it an acknowledged
	// message has been written to the OS (it survives kill -9 of the
	// process) but is fsynced only every sync_interval (nats-server's
	// default: 2 minutes), so a power loss or kernel crash can lose the
	// last interval. SyncAlways protects against that at a throughput
	// cost. False leaves the config file's choice in place.
	SyncAlways bool

	// ClusterListen is the "host:port" of this server's route listener, for
	// the other nodes of a NATS cluster (NATS_CLUSTER_LISTEN). Empty means
	// not clustered, unless the config file sets a cluster block. Port 0
	// picks a free port (see Server.ClusterURL).
	ClusterListen string

	// ClusterRoutes are the route URLs ("host:port" or nats-route://…) of
	// the other nodes (NATS_CLUSTER_ROUTES). Listing this server's own
	// address is harmless: nats-server skips a route to itself.
	ClusterRoutes []string

	// ClusterName names the NATS cluster; every node of it must use the
	// same one. Empty means "sker" when ClusterListen is set.
	ClusterName string

	// ReadyTimeout bounds how long Start waits for the server to accept
	// connections (recovering a large store takes time). Zero means
	// 30 * time.Second.
	ReadyTimeout time.Duration
}

const defaultReadyTimeout = 30 * time.Second

// Validate checks the settings that do not need the config file.
func (c Config) Validate() error {
	if c.ReadyTimeout < 0 {
		return fmt.Errorf("embednats: ReadyTimeout: want zero or a positive duration, got %v", c.ReadyTimeout)
	}
	if c.Listen != "" {
		if _, _, err := splitListen(c.Listen); err != nil {
			return err
		}
	}
	if c.ClusterListen != "" {
		if _, _, err := splitListen(c.ClusterListen); err != nil {
			return fmt.Errorf("embednats: ClusterListen: %w", err)
		}
	}
	if len(c.ClusterRoutes) > 0 && c.ClusterListen == "" {
		return errors.New("embednats: ClusterRoutes: need a ClusterListen address, on which the other nodes reach this one")
	}
	for _, r := range c.ClusterRoutes {
		if _, err := routeURL(r); err != nil {
			return err
		}
	}
	return nil
}

// DefaultClusterName is the NATS cluster's name when ClusterName is empty.
const DefaultClusterName = "sker"

// routeURL reads a route as nats-server wants it: "host:port" becomes
// nats-route://host:port.
func routeURL(r string) (*url.URL, error) {
	if !strings.Contains(r, "://") {
		r = "nats-route://" + r
	}
	u, err := url.Parse(r)
	if err != nil || u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("embednats: ClusterRoutes: want host:port, got %q", r)
	}
	return u, nil
}

func (c Config) readyTimeout() time.Duration {
	if c.ReadyTimeout == 0 {
		return defaultReadyTimeout
	}
	return c.ReadyTimeout
}

// options builds nats-server's Options: the config file, then the fields.
func (c Config) options() (*server.Options, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{}
	if c.ConfigFile != "" {
		var err error
		opts, err = server.ProcessConfigFile(c.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("embednats: config file %s: %w", c.ConfigFile, err)
		}
	}
	if opts.StoreDir == "" {
		if c.DataDir == "" {
			return nil, errors.New("embednats: DataDir: required (the folder for JetStream's files) unless the config file sets jetstream.store_dir")
		}
		opts.StoreDir = c.DataDir
	}
	opts.JetStream = true
	opts.NoSigs = true
	if c.ServerName != "" {
		opts.ServerName = c.ServerName
	}
	if c.SyncAlways {
		opts.SyncAlways = true
	}
	if c.ClusterListen != "" {
		host, port, _ := splitListen(c.ClusterListen) // checked by Validate
		opts.Cluster.Host, opts.Cluster.Port = host, port
		opts.Cluster.Name = c.ClusterName
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = DefaultClusterName
		}
		opts.Routes = nil
		for _, r := range c.ClusterRoutes {
			u, _ := routeURL(r) // checked by Validate
			opts.Routes = append(opts.Routes, u)
		}
	}
	switch {
	case c.Listen != "":
		host, port, _ := splitListen(c.Listen) // checked by Validate
		opts.Host, opts.Port, opts.DontListen = host, port, false
	case opts.Host == "" && opts.Port == 0 && opts.Cluster.Port != 0:
		// nats-server starts its routes only once a client listener is
		// open: a clustered node listens on a free loopback port, never
		// on 4222, for want of a Listen address.
		opts.Host, opts.Port, opts.DontListen = "127.0.0.1", server.RANDOM_PORT, false
	case opts.Host == "" && opts.Port == 0:
		opts.DontListen = true // the config file does not listen either
	}
	return opts, nil
}

// splitListen parses "host:port" into nats-server's Host and Port; port 0
// becomes server.RANDOM_PORT (nats-server reads 0 as its default, 4222).
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("embednats: Listen: want host:port, got %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("embednats: Listen: want a port number 0-65535, got %q", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}
