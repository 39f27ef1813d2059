package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FallbackConfig configures a FallbackLimiter. Zero values take the
// documented defaults.
type FallbackConfig struct {
	// Shared counts for every node (a RedisLimiter).
	Shared Limiter
	// Local counts on this node while Shared fails (a MemoryLimiter).
	Local Limiter
	// Logger gets the warning when Shared fails and the notice when it
	// answers again; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, when set, gets sker_login_limits_shared and
	// sker_login_limits_fallback_total.
	Registerer prometheus.Registerer
	// RetryAfter is how long after a failure of Shared every call goes to
	// Local without asking Shared; default 2s. The first call after it
	// asks Shared again.
	RetryAfter time.Duration
	// WarnEvery is the least time between two warnings while Shared keeps
	// failing; default 1m.
	WarnEvery time.Duration
	// Timeout bounds one call of Shared, its client's retries included;
	// default 1s.
	Timeout time.Duration
	// Now reads the time; nil means time.Now.
	Now func() time.Time
}

func (c *FallbackConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 2 * time.Second
	}
	if c.WarnEvery <= 0 {
		c.WarnEvery = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
}

// FallbackLimiter counts in a shared Limiter (Redis) and, while that one
// fails, on this node, so that logins keep working and stay limited when
// Redis is down: per node then, as without Redis. It goes back to the
// shared counts by itself once they answer again.
//
// Every Fail and Reset is also applied to the local limiter, even while
// the shared one answers: when Redis goes away, this node still knows the
// failures it saw, and an account locked out through it stays locked out.
// While Redis is down, a failure seen on another node is not counted here.
//
// After a failure of the shared limiter, calls skip it for RetryAfter:
// with Redis hanging rather than refusing, only one call in each
// RetryAfter waits for its timeout.
type FallbackLimiter struct {
	cfg      FallbackConfig
	log      *slog.Logger
	shared   prometheus.Gauge
	fallback prometheus.Counter

	mu       sync.Mutex
	down     bool      // the last call of Shared failed
	retryAt  time.Time // while down, Shared is asked again from then on
	warnedAt time.Time // the last warning
	skipped  int       // calls counted locally since the last warning
}

var _ Limiter = (*FallbackLimiter)(nil)

// NewFallbackLimiter returns a FallbackLimiter over cfg.Shared and
// cfg.Local.
func NewFallbackLimiter(cfg FallbackConfig) *FallbackLimiter {
	cfg.setDefaults()
	f := &FallbackLimiter{
		cfg: cfg, log: cfg.Logger.With("component", "auth"),
		shared: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sker_login_limits_shared",
			Help: "1 while login limits are counted in Redis for every node, 0 while this node counts them on its own because Redis does not answer.",
		}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sker_login_limits_fallback_total",
			Help: "Login limit calls counted on this node alone because Redis did not answer.",
		}),
	}
	f.shared.Set(1)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.shared, f.fallback)
	}
	return f
}

// Shared reports whether the last call went to the shared limiter, or
// will (false while it is skipped after a failure).
func (f *FallbackLimiter) Shared() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

// Check implements Limiter.
func (f *FallbackLimiter) Check(ctx context.Context, key string, rule Rule) (time.Duration, error) {
	if f.tryShared() {
		sctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
		d, err := f.cfg.Shared.Check(sctx, key, rule)
		cancel()
		if err == nil {
			f.answered()
			return d, nil
		}
		f.failed(err)
	}
	f.fallback.Inc()
	return f.cfg.Local.Check(ctx, key, rule)
}

// Fail implements Limiter.
func (f *FallbackLimiter) Fail(ctx context.Context, key string, rule Rule) error {
	if err := f.cfg.Local.Fail(ctx, key, rule); err != nil {
		return err
	}
	return f.sharedToo(ctx, func(ctx context.Context) error { return f.cfg.Shared.Fail(ctx, key, rule) })
}

// Reset implements Limiter.
func (f *FallbackLimiter) Reset(ctx context.Context, key string) error {
	if err := f.cfg.Local.Reset(ctx, key); err != nil {
		return err
	}
	return f.sharedToo(ctx, func(ctx context.Context) error { return f.cfg.Shared.Reset(ctx, key) })
}

// sharedToo applies op to the shared limiter, when it is not skipped;
// its failure is not the caller's (the local limiter has the change).
func (f *FallbackLimiter) sharedToo(ctx context.Context, op func(context.Context) error) error {
	if !f.tryShared() {
		f.fallback.Inc()
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if err := op(ctx); err != nil {
		f.failed(err)
		f.fallback.Inc()
		return nil
	}
	f.answered()
	return nil
}

// tryShared reports whether to ask the shared limiter: always while it
// answers, and once RetryAfter has passed since it last failed.
func (f *FallbackLimiter) tryShared() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down || !f.cfg.Now().Before(f.retryAt) {
		return true
	}
	f.skipped++
	return false
}

// failed notes a failure of the shared limiter: warns at most once in
// WarnEvery, and skips it for RetryAfter.
func (f *FallbackLimiter) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	f.retryAt = now.Add(f.cfg.RetryAfter)
	f.shared.Set(0)
	first := !f.down
	f.down = true
	if !first && now.Sub(f.warnedAt) < f.cfg.WarnEvery {
		f.skipped++
		return
	}
	f.log.Warn("login limits: Redis does not answer; counting on this node until it does",
		"err", err, "counted_locally_since_last_warning", f.skipped)
	f.warnedAt, f.skipped = now, 0
}

// answered notes that the shared limiter answered, and says so when it
// had failed.
func (f *FallbackLimiter) answered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return
	}
	f.down = false
	f.shared.Set(1)
	f.log.Info("login limits: Redis answers again; limits are shared by the nodes again",
		"counted_locally_since_last_warning", f.skipped)
	f.skipped = 0
}
