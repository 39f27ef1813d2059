// Package config loads SKER's configuration from the environment, a .env
// file and command-line flags (flags override the environment, which
// overrides .env), and validates it. A bad value is an error that names the
// variable and what it expected.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/skerhq/sker/natsname"
)

// Config is the whole configuration of one sker process. The zero value is
// not useful; Load fills the documented defaults.
type Config struct {
	Env  string // SKER_ENV: "development" (default) or "production"
	Host string // HOST: listen address; default "" (all interfaces)
	Port int    // PORT: HTTP port; default 3000

	DataDir         string // DATA_DIR: embedded NATS and SQLite store; default "./data"
	DatabaseURL     string // DATABASE_URL: postgres://… ; empty means embedded SQLite
	DatabaseReadURL string // DATABASE_READ_URL: optional read replica (PostgreSQL only)
	RedisURL        string // REDIS_URL: optional
	RabbitMQURL     string // RABBITMQ_URL: optional
	NatsURL         string // NATS_URL: external NATS; empty means embedded server
	NatsConfig      string // NATS_CONFIG: embedded server config; default "nats.conf" when present
	NatsListen      string // NATS_LISTEN: host:port the embedded server listens on; default none (in-process only)
	NatsPrefix      string // NATS_PREFIX: prefix of every NATS stream and subject (natsname); default "SKER"

	NodeName          string   // NODE_NAME: this node's name in a cluster (and its embedded NATS server's); default the host name
	NatsClusterListen string   // NATS_CLUSTER_LISTEN: host:port of the embedded server's route listener; empty means not clustered
	NatsClusterRoutes []string // NATS_CLUSTER_ROUTES: comma-separated host:port of the other nodes' route listeners
	NatsClusterName   string   // NATS_CLUSTER_NAME: the NATS cluster's name, the same on every node; default "sker"
	JournalReplicas   int      // JOURNAL_REPLICAS: copies of the journal and the AI work queue; default 1 (3 for a cluster of three or more)
	Roles             []string // SKER_ROLES: what this node does, of gateway (serves clients), canvases (owns canvases), ai (runs AI workers) and bridge (runs the RabbitMQ bridge); default all

	// The RabbitMQ bridge, on with RABBITMQ_URL (docs/bridge.md).
	BridgeCommands        bool   // BRIDGE_COMMANDS: the commands-in mapping; default on
	BridgeCommandsQueue   string // BRIDGE_COMMANDS_QUEUE: durable queue of commands; default "sker.commands"
	BridgeDeadLetterQueue string // BRIDGE_DEAD_LETTER_QUEUE: durable queue of rejected commands; default "sker.commands.dead"
	BridgeEvents          bool   // BRIDGE_EVENTS: the events-out mapping; default on
	BridgeEventsExchange  string // BRIDGE_EVENTS_EXCHANGE: durable topic exchange of committed batches; default "sker.events"
	BridgeEventsConsumer  string // BRIDGE_EVENTS_CONSUMER: durable JetStream consumer keeping the bridge's place in the journal; default "sker-bridge-events"
	BridgePrefetch        int    // BRIDGE_PREFETCH: commands unacked at once; default 64
	BridgeMaxInFlight     int    // BRIDGE_MAX_IN_FLIGHT: journal records published and not yet confirmed; default 256
	BridgeMaxAttempts     int    // BRIDGE_MAX_ATTEMPTS: tries of a command whose canvas is unavailable before it is rejected; default 5
	BridgeConfig          string // BRIDGE_CONFIG: YAML file of generic mappings, queue → NATS subject and NATS subject → exchange (docs/bridge.md); default none

	OpenAIKey        string // OPENAI_API_KEY
	OpenAIBaseURL    string // OPENAI_BASE_URL
	AnthropicKey     string // ANTHROPIC_API_KEY
	AnthropicBaseURL string // ANTHROPIC_BASE_URL

	OpenAIModels    []string // OPENAI_MODELS: comma-separated, default first
	AnthropicModels []string // ANTHROPIC_MODELS: comma-separated, default first

	AIWorkers        int           // AI_WORKERS: runs this node executes at once; 0 disables the engine role here; default 4
	AIRunTimeout     time.Duration // AI_RUN_TIMEOUT: default 2m
	AIMaxRunsPerUser int           // AI_MAX_RUNS_PER_USER: concurrent runs per user; default 3
	AIRunsPerMinute  int           // AI_RUNS_PER_MINUTE: runs started per user per minute; default 20
	AIContextTokens  int           // AI_CONTEXT_TOKENS: upstream context budget per run; default 6000
	AITextOnlyModels []string      // AI_TEXT_ONLY_MODELS: models that take no images; their runs get a note for each image card
	AIWorkerQueue    string        // AI_WORKER_QUEUE: RabbitMQ queue that AI runs go to, for workers outside SKER; "" runs them here

	JWTSecret       string        // JWT_SECRET: in development a random secret is kept in DATA_DIR when empty
	AccessTokenTTL  time.Duration // ACCESS_TOKEN_TTL: default 15m
	RefreshTokenTTL time.Duration // REFRESH_TOKEN_TTL: default 720h (30 days)
	CORSOrigin      string        // CORS_ORIGIN: comma-separated allowed origins; empty means same-origin only

	TrustProxy []netip.Prefix // TRUST_PROXY: proxies whose X-Forwarded-* headers are believed (config/proxy.go); default none

	UploadPath  string // UPLOAD_PATH: default DATA_DIR/uploads
	MaxFileSize int64  // MAX_FILE_SIZE: bytes, or with a KB/MB/GB suffix; default 10MB
	FileStore   string // FILE_STORE: where uploads live, fs (UPLOAD_PATH) or nats (JetStream object store); default fs
	BodyLimit   int64  // BODY_LIMIT: largest request body; default 4MB

	FileQuotaCanvas int64 // FILE_QUOTA_CANVAS: bytes of files one canvas may hold; 0: no quota; default 1GB
	FileQuotaUser   int64 // FILE_QUOTA_USER: bytes one user may upload to all canvases; 0: no quota; default 5GB

	FileGrace         time.Duration // FILE_GRACE: how long a file no card refers to is kept before it is deleted; default 168h
	FileSweepInterval time.Duration // FILE_SWEEP_INTERVAL: how often each node sweeps unreferenced files; default 1h

	HeaderTimeout time.Duration // HEADER_TIMEOUT: longest wait for a request's header; default 20s
	BodyTimeout   time.Duration // BODY_TIMEOUT: longest wait for a request's body once its header is in; default 60s

	ClusterRebalanceInterval time.Duration // CLUSTER_REBALANCE_INTERVAL: between rebalance rounds of a cluster node; default 5s
	CanvasIdleTimeout        time.Duration // CANVAS_IDLE_TIMEOUT: passivate a canvas with no request for this long (checked every period: it stops within two); default 5m
	CanvasHistory            int           // CANVAS_HISTORY: recent batches each live canvas keeps for catch-up; default 1000
	CanvasHistorySize        int64         // CANVAS_HISTORY_SIZE: at most this many bytes of them; default 8MB
	VersionRetention         time.Duration // VERSION_RETENTION: how long a canvas's history (its kept versions) is kept; default 720h (30 days)
	VersionSweepInterval     time.Duration // VERSION_SWEEP_INTERVAL: how often each node deletes the versions past VERSION_RETENTION; default 1h
	ShutdownTimeout          time.Duration // SHUTDOWN_TIMEOUT: how long shutdown waits for in-flight work; default 15s

	BackupInterval  time.Duration // BACKUP_INTERVAL: a scheduled backup this often; zero (the default) means none
	BackupDir       string        // BACKUP_DIR: folder of the scheduled backups; default DATA_DIR/backups
	BackupRetention time.Duration // BACKUP_RETENTION: scheduled backups older than this are removed; zero keeps all; default 30 days
	OpsToken        string        // OPS_TOKEN: bearer token of the /ops routes; empty means loopback only

	LogLevel  string // LOG_LEVEL: debug | info (default) | warn | error
	LogFormat string // LOG_FORMAT: text (default) | json; the guide's combined (and other morgan formats) read as text
	// AccessLog is ACCESS_LOG: "on" (the default: one line per request
	// in the process log), "off" (none, except requests answered 5xx) or
	// an absolute file path the lines are appended to instead, in
	// LOG_FORMAT.
	AccessLog string

	// Notices are start-up messages about the deployment guide's names
	// (config/guide.go): aliases read and settings ignored. LogNotices.
	Notices []string
}

// Production reports whether SKER_ENV is production.
func (c Config) Production() bool { return c.Env == "production" }

// Addr is the HTTP listen address.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }

// setting is one configuration variable with its flag and parser.
type setting struct {
	env   string
	def   string
	usage string
	parse func(c *Config, v string) error
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

var settings = []setting{
	{"SKER_ENV", "development", "development or production", func(c *Config, v string) error {
		if v != "development" && v != "production" {
			return fmt.Errorf("want development or production, got %q", v)
		}
		c.Env = v
		return nil
	}},
	{"HOST", "", "HTTP listen host (empty: all interfaces)", str(func(c *Config) *string { return &c.Host })},
	{"PORT", "3000", "HTTP port", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("want a port number 0-65535, got %q", v)
		}
		c.Port = n
		return nil
	}},
	{"DATA_DIR", "./data", "folder for the embedded NATS and SQLite store", func(c *Config, v string) error {
		if v == "" {
			return errors.New("want a folder path, got an empty value")
		}
		c.DataDir = v
		return nil
	}},
	{"DATABASE_URL", "", "postgres://… (empty: embedded SQLite in DATA_DIR)", dbURL(func(c *Config) *string { return &c.DatabaseURL })},
	{"DATABASE_READ_URL", "", "postgres://… read replica", dbURL(func(c *Config) *string { return &c.DatabaseReadURL })},
	{"REDIS_URL", "", "redis://… (optional)", schemeURL([]string{"redis", "rediss"}, func(c *Config) *string { return &c.RedisURL })},
	{"RABBITMQ_URL", "", "amqp://… (optional)", schemeURL([]string{"amqp", "amqps"}, func(c *Config) *string { return &c.RabbitMQURL })},
	{"BRIDGE_COMMANDS", "on", "commands in from RabbitMQ (on or off)", onOff(func(c *Config) *bool { return &c.BridgeCommands })},
	{"BRIDGE_COMMANDS_QUEUE", "sker.commands", "RabbitMQ queue of commands", amqpName(func(c *Config) *string { return &c.BridgeCommandsQueue })},
	{"BRIDGE_DEAD_LETTER_QUEUE", "sker.commands.dead", "RabbitMQ queue of rejected commands", amqpName(func(c *Config) *string { return &c.BridgeDeadLetterQueue })},
	{"BRIDGE_EVENTS", "on", "committed changes out to RabbitMQ (on or off)", onOff(func(c *Config) *bool { return &c.BridgeEvents })},
	{"BRIDGE_EVENTS_EXCHANGE", "sker.events", "RabbitMQ topic exchange of committed changes", amqpName(func(c *Config) *string { return &c.BridgeEventsExchange })},
	{"BRIDGE_EVENTS_CONSUMER", "sker-bridge-events", "JetStream consumer that keeps the bridge's place in the journal", consumerName(func(c *Config) *string { return &c.BridgeEventsConsumer })},
	{"BRIDGE_PREFETCH", "64", "commands the bridge holds unacked at once", intRange(1, 10_000, func(c *Config) *int { return &c.BridgePrefetch })},
	{"BRIDGE_MAX_IN_FLIGHT", "256", "journal records the bridge publishes before their confirms", intRange(1, 10_000, func(c *Config) *int { return &c.BridgeMaxInFlight })},
	{"BRIDGE_MAX_ATTEMPTS", "5", "tries of a command whose canvas is unavailable", intRange(1, 100, func(c *Config) *int { return &c.BridgeMaxAttempts })},
	{"BRIDGE_CONFIG", "", "YAML file of generic bridge mappings: queue to NATS subject, NATS subject to exchange (needs RABBITMQ_URL)", bridgeConfig},
	{"NATS_URL", "", "nats://… external NATS (empty: embedded server)", natsURL},
	{"NATS_CONFIG", "", "embedded NATS config file (default: nats.conf when present)", str(func(c *Config) *string { return &c.NatsConfig })},
	{"NATS_LISTEN", "", "host:port for the embedded NATS server (empty: in-process only)", str(func(c *Config) *string { return &c.NatsListen })},
	{"NATS_PREFIX", natsname.DefaultPrefix, "prefix of the NATS streams and subjects (deployments sharing a NATS system need different ones)", func(c *Config, v string) error {
		if err := natsname.Check(v); err != nil {
			return fmt.Errorf("want 1 to %d letters, digits, '_' or '-', starting with a letter or digit, got %q", natsname.MaxPrefixLen, v)
		}
		c.NatsPrefix = v
		return nil
	}},
	{"NODE_NAME", "", "this node's name in a cluster (default: the host name)", nodeName},
	{"NATS_CLUSTER_LISTEN", "", "host:port of the embedded NATS route listener (empty: not clustered)", hostPort(func(c *Config) *string { return &c.NatsClusterListen })},
	{"NATS_CLUSTER_ROUTES", "", "comma-separated host:port of the other nodes' route listeners", routes},
	{"NATS_CLUSTER_NAME", "sker", "the NATS cluster's name, the same on every node", clusterName},
	{"JOURNAL_REPLICAS", "1", "copies of the journal and the AI work queue (1, or 3 or 5 on a NATS cluster)", journalReplicas},
	{"CLUSTER_REBALANCE_INTERVAL", "5s", "how often a cluster node hands the canvases placement gives to another node over (at most a tenth of its own a round)", duration(100*time.Millisecond, time.Hour, func(c *Config) *time.Duration { return &c.ClusterRebalanceInterval })},
	{"SKER_ROLES", "all", "what this node does: all, or a comma list of gateway (serves clients), canvases (owns canvases), ai (runs AI workers), bridge (runs the RabbitMQ bridge)", roles},
	{"OPENAI_API_KEY", "", "OpenAI API key", str(func(c *Config) *string { return &c.OpenAIKey })},
	{"OPENAI_BASE_URL", "", "OpenAI-compatible base URL", schemeURL([]string{"http", "https"}, func(c *Config) *string { return &c.OpenAIBaseURL })},
	{"ANTHROPIC_API_KEY", "", "Anthropic API key", str(func(c *Config) *string { return &c.AnthropicKey })},
	{"ANTHROPIC_BASE_URL", "", "Anthropic base URL", schemeURL([]string{"http", "https"}, func(c *Config) *string { return &c.AnthropicBaseURL })},
	{"OPENAI_MODELS", "", "comma-separated OpenAI models, default first", list(func(c *Config) *[]string { return &c.OpenAIModels })},
	{"ANTHROPIC_MODELS", "", "comma-separated Anthropic models, default first", list(func(c *Config) *[]string { return &c.AnthropicModels })},
	{"AI_WORKERS", "4", "AI runs this node executes at once (0: none here)", intRange(0, 1000, func(c *Config) *int { return &c.AIWorkers })},
	{"AI_RUN_TIMEOUT", "2m", "longest AI run", duration(time.Second, time.Hour, func(c *Config) *time.Duration { return &c.AIRunTimeout })},
	{"AI_MAX_RUNS_PER_USER", "3", "concurrent AI runs per user", intRange(1, 1000, func(c *Config) *int { return &c.AIMaxRunsPerUser })},
	{"AI_RUNS_PER_MINUTE", "20", "AI runs a user may start per minute", intRange(1, 100000, func(c *Config) *int { return &c.AIRunsPerMinute })},
	{"AI_CONTEXT_TOKENS", "6000", "upstream context budget per AI run (about 4 bytes a token)", intRange(100, 1000000, func(c *Config) *int { return &c.AIContextTokens })},
	{"AI_TEXT_ONLY_MODELS", "", "comma-separated models that take no images (an image card upstream becomes a note)", list(func(c *Config) *[]string { return &c.AITextOnlyModels })},
	{"AI_WORKER_QUEUE", "", "RabbitMQ queue that AI runs go to, for workers outside SKER (needs RABBITMQ_URL)", func(c *Config, v string) error {
		if v == "" {
			c.AIWorkerQueue = ""
			return nil
		}
		return amqpName(func(c *Config) *string { return &c.AIWorkerQueue })(c, v)
	}},
	{"JWT_SECRET", "", "secret that signs access tokens (at least 32 bytes)", func(c *Config, v string) error {
		if v != "" && len(v) < 32 {
			return fmt.Errorf("want at least 32 bytes, got %d", len(v))
		}
		c.JWTSecret = v
		return nil
	}},
	{"ACCESS_TOKEN_TTL", "15m", "lifetime of access tokens", duration(time.Minute, 24*time.Hour, func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{"REFRESH_TOKEN_TTL", "720h", "lifetime of refresh tokens", duration(time.Hour, 24*365*time.Hour, func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{"CORS_ORIGIN", "", "comma-separated allowed origins", str(func(c *Config) *string { return &c.CORSOrigin })},
	{"TRUST_PROXY", "", "comma-separated IPs and CIDRs of reverse proxies whose X-Forwarded-For is believed (empty: none)", trustProxy},
	{"UPLOAD_PATH", "", "folder for uploads (default DATA_DIR/uploads)", str(func(c *Config) *string { return &c.UploadPath })},
	{"MAX_FILE_SIZE", "10MB", "largest upload", size(func(c *Config) *int64 { return &c.MaxFileSize })},
	{"FILE_QUOTA_CANVAS", "1GB", "bytes of files one canvas may hold (0: no quota)", size(func(c *Config) *int64 { return &c.FileQuotaCanvas })},
	{"FILE_QUOTA_USER", "5GB", "bytes one user may upload, all canvases together (0: no quota)", size(func(c *Config) *int64 { return &c.FileQuotaUser })},
	{"FILE_GRACE", "168h", "how long a file no card (nor the journal) refers to any more is kept before it is deleted", duration(time.Second, 24*365*time.Hour, func(c *Config) *time.Duration { return &c.FileGrace })},
	{"FILE_SWEEP_INTERVAL", "1h", "how often each node looks for unreferenced files and for content no canvas holds", duration(time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.FileSweepInterval })},
	{"FILE_STORE", "fs", "where uploads live: fs (UPLOAD_PATH) or nats (JetStream, for nodes that share no disk)", oneOf([]string{"fs", "nats"}, func(c *Config) *string { return &c.FileStore })},
	{"BODY_LIMIT", "4MB", "largest request body", size(func(c *Config) *int64 { return &c.BodyLimit })},
	{"HEADER_TIMEOUT", "20s", "longest wait for a request's header", duration(time.Second, time.Hour, func(c *Config) *time.Duration { return &c.HeaderTimeout })},
	{"BODY_TIMEOUT", "60s", "longest wait for a request's body once its header is in", duration(time.Second, time.Hour, func(c *Config) *time.Duration { return &c.BodyTimeout })},
	{"CANVAS_IDLE_TIMEOUT", "5m", "passivate a canvas idle this long", duration(time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.CanvasIdleTimeout })},
	{"CANVAS_HISTORY", "1000", "recent batches each live canvas keeps for catch-up", intRange(10, 100_000, func(c *Config) *int { return &c.CanvasHistory })},
	{"CANVAS_HISTORY_SIZE", "8MB", "at most this much of them, encoded", size(func(c *Config) *int64 { return &c.CanvasHistorySize })},
	{"VERSION_RETENTION", "720h", "how long a canvas's version history is kept", duration(time.Hour, 87600*time.Hour, func(c *Config) *time.Duration { return &c.VersionRetention })},
	{"VERSION_SWEEP_INTERVAL", "1h", "how often each node deletes the versions older than VERSION_RETENTION", duration(time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.VersionSweepInterval })},
	{"SHUTDOWN_TIMEOUT", "15s", "how long shutdown waits for in-flight work", duration(0, time.Hour, func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"BACKUP_INTERVAL", "", "a scheduled backup this often, like 6h or 1d (empty or 0: none)", days(10*time.Second, func(c *Config) *time.Duration { return &c.BackupInterval })},
	{"BACKUP_DIR", "", "folder of the scheduled backups (default DATA_DIR/backups)", str(func(c *Config) *string { return &c.BackupDir })},
	{"BACKUP_RETENTION", "30d", "scheduled backups older than this are removed (0: keep all)", days(time.Hour, func(c *Config) *time.Duration { return &c.BackupRetention })},
	{"OPS_TOKEN", "", "bearer token of the /ops routes (empty: loopback only)", func(c *Config, v string) error {
		if v != "" && len(v) < 16 {
			return fmt.Errorf("want at least 16 bytes, got %d", len(v))
		}
		c.OpsToken = v
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", oneOf([]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel })},
	{"LOG_FORMAT", "text", "text or json (the guide's combined: text)", logFormat},
	{"ACCESS_LOG", "on", "one line per request: on (in the log), off, or an absolute file path to append them to", accessLog},
}

// Load reads .env (from envFile, when it exists), then the environment
// (getenv), then the flags in args, and returns the validated Config.
// args are the arguments after the subcommand; flag names are the variable
// names in lower case with dashes (--data-dir for DATA_DIR).
func Load(args []string, getenv func(string) string, envFile string) (Config, []string, error) {
	raw := map[string]string{}
	if envFile != "" {
		file, err := godotenv.Read(envFile)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Config{}, nil, fmt.Errorf("config: read %s: %w", envFile, err)
		}
		for k, v := range file {
			raw[k] = v
		}
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			raw[s.env] = v
		}
	}
	notices, err := fromGuide(raw, getenv)
	if err != nil {
		return Config{}, nil, err
	}
	fset := flag.NewFlagSet("sker", flag.ContinueOnError)
	flags := map[string]*string{}
	for _, s := range settings {
		flags[s.env] = fset.String(FlagName(s.env), "", s.usage+" (env "+s.env+")")
	}
	if err := fset.Parse(args); err != nil {
		return Config{}, nil, err
	}
	fset.Visit(func(f *flag.Flag) {
		for env, p := range flags {
			if FlagName(env) == f.Name {
				raw[env] = *p
			}
		}
	})
	var c Config
	for _, s := range settings {
		v, ok := raw[s.env]
		if !ok {
			v = s.def
		}
		if err := s.parse(&c, strings.TrimSpace(v)); err != nil {
			return Config{}, nil, fmt.Errorf("config: %s: %w", s.env, err)
		}
	}
	if err := c.finish(); err != nil {
		return Config{}, nil, err
	}
	c.Notices = append(notices, c.Notices...)
	return c, fset.Args(), nil
}

// finish applies defaults that depend on other settings and checks the
// combinations.
func (c *Config) finish() error {
	if c.UploadPath == "" {
		c.UploadPath = c.DataDir + "/uploads"
	}
	if c.BackupDir == "" {
		c.BackupDir = c.DataDir + "/backups"
	}
	if c.NatsConfig == "" {
		if _, err := os.Stat("nats.conf"); err == nil {
			c.NatsConfig = "nats.conf"
		}
	}
	if c.DatabaseReadURL != "" && c.DatabaseURL == "" {
		return errors.New("config: DATABASE_READ_URL: needs DATABASE_URL (a read replica of PostgreSQL)")
	}
	if err := c.finishCluster(); err != nil {
		return err
	}
	if err := c.finishBridge(); err != nil {
		return err
	}
	if c.Production() && c.JWTSecret == "" {
		return errors.New("config: JWT_SECRET: required when SKER_ENV=production (at least 32 random bytes)")
	}
	return nil
}

// FlagName is the flag for an environment variable: DATA_DIR → data-dir.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

func dbURL(dst func(*Config) *string) func(*Config, string) error {
	return schemeURL([]string{"postgres", "postgresql"}, dst)
}

func natsURL(c *Config, v string) error {
	if v == "" {
		c.NatsURL = ""
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		if err := checkScheme(strings.TrimSpace(part), []string{"nats", "tls", "ws", "wss"}); err != nil {
			return err
		}
	}
	c.NatsURL = v
	return nil
}

func schemeURL(schemes []string, dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*dst(c) = ""
			return nil
		}
		if err := checkScheme(v, schemes); err != nil {
			return err
		}
		*dst(c) = v
		return nil
	}
}

func checkScheme(v string, schemes []string) error {
	u, err := url.Parse(v)
	if err == nil {
		for _, s := range schemes {
			if u.Scheme == s && u.Host != "" {
				return nil
			}
		}
	}
	return fmt.Errorf("want a URL of scheme %s with a host, got %q", strings.Join(schemes, " or "), redact(v))
}

// redact hides a password in a URL so it never reaches a log.
func redact(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	return u.Redacted()
}

func oneOf(allowed []string, dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				*dst(c) = a
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

func duration(lo, hi time.Duration, dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("want a duration between %v and %v (like 30s, 5m), got %q", lo, hi, v)
		}
		*dst(c) = d
		return nil
	}
}

// days parses a duration that may also be whole days ("30d"); empty or
// "0" is zero (off), anything else must be between lo and 10 years.
func days(lo time.Duration, dst func(*Config) *time.Duration) func(*Config, string) error {
	const hi = 10 * 365 * 24 * time.Hour
	return func(c *Config, v string) error {
		if v == "" || v == "0" {
			*dst(c) = 0
			return nil
		}
		d, err := time.ParseDuration(v)
		if n, ok := strings.CutSuffix(v, "d"); ok {
			var days int
			days, err = strconv.Atoi(n)
			d = time.Duration(days) * 24 * time.Hour
			if days > int(hi/(24*time.Hour)) {
				d = hi + 1
			}
		}
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("want 0 or a duration from %v to 10 years (like 12h, 30d), got %q", lo, v)
		}
		*dst(c) = d
		return nil
	}
}

func intRange(lo, hi int, dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want a whole number from %d to %d, got %q", lo, hi, v)
		}
		*dst(c) = n
		return nil
	}
}

func list(dst func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		*dst(c) = out
		return nil
	}
}

func size(dst func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		*dst(c) = n
		return nil
	}
}

// ParseSize reads a byte count with an optional KB, MB or GB suffix
// (powers of 1024): "512", "64KB", "10MB".
func ParseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("want a positive size like 512KB or 10MB, got %q", v)
	}
	return n * mult, nil
}

// Usage lists every setting with its default, for `sker help`.
func Usage() string {
	var b strings.Builder
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "  --%-22s %-20s %s; default %s\n", FlagName(s.env), s.env, s.usage, def)
	}
	return b.String()
}
