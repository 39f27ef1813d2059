package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/skerhq/sker/auth"
)

// Redis timeouts when REDIS_URL does not set its own (dial_timeout,
// read_timeout, write_timeout, pool_timeout, max_retries). Redis only
// shares limits between the nodes, and each feature has a per-node
// fallback: a request should fall back quickly rather than wait on a
// Redis that is gone. go-redis's defaults (5 s, three retries and five
// dial attempts) could hold a login for many seconds.
const (
	redisDialTimeout  = 500 * time.Millisecond
	redisReadTimeout  = 500 * time.Millisecond
	redisWriteTimeout = 500 * time.Millisecond
	redisPoolTimeout  = time.Second
	redisMaxRetries   = 1
)

// redisPingTimeout bounds /ready's ping of Redis, whatever the probe's own
// deadline.
const redisPingTimeout = time.Second

// newRedis is the client of REDIS_URL with SKER's short timeouts wherever
// the URL sets none, and go-redis's own log lines sent to log.
func newRedis(rawURL string, log *slog.Logger) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("app: REDIS_URL: %w", err)
	}
	applyRedisTimeouts(opts)
	redis.SetLogger(&redisLogger{log: log.With("component", "redis"), now: time.Now})
	return redis.NewClient(opts), nil
}

// applyRedisTimeouts sets each timeout the URL left at zero (go-redis's
// "default"). Negative values from the URL (no timeout) are kept.
func applyRedisTimeouts(o *redis.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = redisDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = redisReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = redisWriteTimeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = redisPoolTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = redisMaxRetries
	}
	// One dial per attempt: a refused connection is answered at once, and
	// go-redis's five dials 100 ms apart would only delay the fallback.
	o.DialerRetries = 1
	// A caller's deadline (a request's, /ready's) bounds the command too.
	o.ContextTimeoutEnabled = true
}

// redisLogger passes go-redis's log lines (pool and reconnect messages) to
// the process logger, in LOG_FORMAT, instead of go-redis's own standard
// error lines. While Redis is down go-redis logs every failed dial: a
// line the same as the last one is dropped for redisLogRepeat, and the
// next one says how many were.
type redisLogger struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	last    string
	lastAt  time.Time
	dropped int
}

// redisLogRepeat is how long a repeated go-redis line is dropped.
const redisLogRepeat = 10 * time.Second

// Printf implements go-redis's internal.Logging.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.mu.Lock()
	now := l.now()
	if msg == l.last && now.Sub(l.lastAt) < redisLogRepeat {
		l.dropped++
		l.mu.Unlock()
		return
	}
	dropped := l.dropped
	l.last, l.lastAt, l.dropped = msg, now, 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.WarnContext(ctx, msg, "dropped_repeats_of_previous_line", dropped)
		return
	}
	l.log.WarnContext(ctx, msg)
}

// pingRedis is /ready's check of Redis, bounded by redisPingTimeout.
func (a *App) pingRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	return a.redis.Ping(ctx).Err()
}

// redisPrefix is where every Redis key of this deployment goes: the
// lower-cased NATS_PREFIX and ":" ("sker:" by default).
func (a *App) redisPrefix() string { return strings.ToLower(a.cfg.NatsPrefix) + ":" }

// loginLimiter counts login limits in Redis, falling back to counting on
// this node while Redis does not answer (see auth.FallbackLimiter).
func (a *App) loginLimiter(reg prometheus.Registerer) auth.Limiter {
	return auth.NewFallbackLimiter(auth.FallbackConfig{
		Shared:     auth.NewRedisLimiter(a.redis, a.redisPrefix()),
		Local:      auth.NewMemoryLimiter(auth.DefaultMaxKeys, nil),
		Logger:     a.log,
		Registerer: reg,
	})
}

// warnPerNode says once, at start, what a node of a cluster counts on its
// own without REDIS_URL: a node is one of several when its embedded NATS
// is clustered or when it uses an external NATS (other nodes may share it).
func (a *App) warnPerNode() {
	if a.cfg.RedisURL != "" || (!a.cfg.Clustered() && a.cfg.NatsURL == "") {
		return
	}
	a.log.Warn("REDIS_URL is not set: on a cluster, each node counts these limits on its own",
		"per_node", "login limits per address and per email, AI runs per user per minute, AI runs at once per user, who is on each canvas in the canvas list")
}
