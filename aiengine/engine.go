package aiengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/skerhq/sker/ai"
	"github.com/skerhq/sker/aicard"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// Finisher commits a run's result to its card: what the engine needs of
// the canvas contract (canvases.Canvases; *actors.Hub on one node).
type Finisher interface {
	FinishAIRun(ctx context.Context, canvasID, nodeID, runID string, r canvases.AIResult) error
}

var _ Finisher = canvases.Canvases(nil)

// Recorder stores finished runs (store.Store).
type Recorder interface {
	RecordAIRun(ctx context.Context, r store.AIRun) error
}

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Registry *ai.Registry
	JS       jetstream.JetStream
	Conn     *nats.Conn
	Store    Recorder
	Logger   *slog.Logger

	// Workers is how many runs this process executes at once; default 4.
	Workers int
	// RunTimeout bounds one run; default 2m.
	RunTimeout time.Duration
	// MaxRunsPerUser is how many runs one user may have going; default 3.
	MaxRunsPerUser int
	// RunsPerMinute is how many runs one user may start a minute; default 20.
	RunsPerMinute int
	// DeltaInterval coalesces deltas; default 50ms.
	DeltaInterval time.Duration
	// FinishTimeout bounds one attempt to commit a run's result to its
	// card (up to five are made while the canvas is unavailable); default
	// 10s.
	FinishTimeout time.Duration
	// RecordTimeout bounds recording a run's usage in the store; default
	// 5s.
	RecordTimeout time.Duration
	// Names gives the work queue's stream and subject, the cancel subject
	// and each canvas's delta subject (heard by the gateways); zero means
	// natsname.Default().
	Names natsname.Names
	// Replicas is how many copies of the work queue a NATS cluster keeps
	// (JOURNAL_REPLICAS); zero means 1.
	Replicas int
	// Redis, when set, counts RunsPerMinute for every engine sharing it
	// (GCRA, go-redis/redis_rate) under the key
	// "rate:" + RedisPrefix + "ai:runs:" + user. While Redis does not
	// answer within a second, this engine counts on its own and logs a
	// warning. Nil: this engine counts on its own.
	Redis       redis.UniversalClient
	RedisPrefix string
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.RunTimeout <= 0 {
		c.RunTimeout = 2 * time.Minute
	}
	if c.MaxRunsPerUser <= 0 {
		c.MaxRunsPerUser = 3
	}
	if c.RunsPerMinute <= 0 {
		c.RunsPerMinute = 20
	}
	if c.DeltaInterval <= 0 {
		c.DeltaInterval = 50 * time.Millisecond
	}
	if c.FinishTimeout <= 0 {
		c.FinishTimeout = 10 * time.Second
	}
	if c.RecordTimeout <= 0 {
		c.RecordTimeout = 5 * time.Second
	}
	if c.Names.IsZero() {
		c.Names = natsname.Default()
	}
}

// Engine queues, runs and limits AI runs.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	stream jetstream.Stream

	rate *redis_rate.Limiter // nil without Config.Redis

	mu       sync.Mutex
	admitted map[string]string             // run → user, for runs counted against a user
	running  map[string]int                // user → runs counted
	limiters map[string]*rate.Limiter      // user → start rate
	local    map[string]context.CancelFunc // runs executing in this process
	// cancelled remembers cancels that came before their job was taken.
	cancelled map[string]time.Time

	cancelSub *nats.Subscription
	consume   jetstream.ConsumeContext
	wg        sync.WaitGroup
	slots     chan struct{}
	stopOnce  sync.Once
	stopped   chan struct{}
}

// New creates the work queue stream and returns the Engine; it runs jobs
// only after Start.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if cfg.Registry == nil || cfg.JS == nil || cfg.Conn == nil || cfg.Store == nil {
		return nil, errors.New("aiengine: Config needs Registry, JS, Conn and Store")
	}
	name := cfg.Names.AIStream()
	stream, err := cfg.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "SKER AI jobs: one message per run of an AI card",
		Subjects:    []string{cfg.Names.AIJobs()},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      time.Hour,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("aiengine: create stream %s: %w", name, err)
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger.With("component", "ai"), stream: stream,
		admitted: map[string]string{}, running: map[string]int{}, limiters: map[string]*rate.Limiter{},
		local: map[string]context.CancelFunc{}, cancelled: map[string]time.Time{}, slots: make(chan struct{}, cfg.Workers), stopped: make(chan struct{}),
	}
	if cfg.Redis != nil {
		e.rate = redis_rate.NewLimiter(cfg.Redis)
	}
	e.cancelSub, err = cfg.Conn.Subscribe(cfg.Names.AICancel(), func(m *nats.Msg) { e.cancelLocal(string(m.Data)) })
	if err != nil {
		return nil, fmt.Errorf("aiengine: subscribe %s: %w", cfg.Names.AICancel(), err)
	}
	return e, nil
}

// Providers lists the configured providers and models (never keys).
func (e *Engine) Providers() []ai.ProviderInfo { return e.cfg.Registry.List() }

// Resolve implements actors.AIEngine.
func (e *Engine) Resolve(provider, model string) (string, string, error) {
	var p ai.Provider
	if provider == "" {
		var ok bool
		if p, ok = e.cfg.Registry.Default(); !ok {
			return "", "", ai.ErrNoProvider
		}
	} else {
		var err error
		if p, err = e.cfg.Registry.Lookup(provider); err != nil {
			return "", "", err
		}
	}
	if model == "" {
		model = p.DefaultModel()
	}
	return p.Name(), model, nil
}

// Admit implements actors.AIEngine.
func (e *Engine) Admit(user, run string) error {
	e.mu.Lock()
	if err := e.checkRunning(user); err != nil {
		e.mu.Unlock()
		return err
	}
	e.mu.Unlock()
	shared, allowed := e.allowShared(user)

	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkRunning(user); err != nil { // again: e.mu was let go
		return err
	}
	if !shared {
		allowed = e.allowLocal(user)
	}
	if !allowed {
		return &canvas.OpError{Code: apierr.CodeAIRateLimited, Index: 0,
			Message: fmt.Sprintf("at most %d AI runs a minute per user", e.cfg.RunsPerMinute)}
	}
	e.running[user]++
	e.admitted[run] = user
	return nil
}

// checkRunning refuses a run past MaxRunsPerUser. e.mu must be held.
func (e *Engine) checkRunning(user string) error {
	if e.running[user] >= e.cfg.MaxRunsPerUser {
		return &canvas.OpError{Code: apierr.CodeAILimit, Index: 0,
			Message: fmt.Sprintf("at most %d AI runs at once per user; wait for one to finish", e.cfg.MaxRunsPerUser)}
	}
	return nil
}

// allowShared spends one of user's runs this minute in Redis. shared is
// false without Redis or when Redis did not answer: then the caller
// counts in this process.
func (e *Engine) allowShared(user string) (shared, allowed bool) {
	if e.rate == nil {
		return false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := e.rate.Allow(ctx, e.cfg.RedisPrefix+"ai:runs:"+user, redis_rate.PerMinute(e.cfg.RunsPerMinute))
	if err != nil {
		e.log.Warn("AI runs per minute: Redis does not answer; counting on this node", "err", err)
		return false, false
	}
	return true, res.Allowed > 0
}

// allowLocal spends one of user's runs this minute in this process. e.mu
// must be held.
func (e *Engine) allowLocal(user string) bool {
	lim := e.limiters[user]
	if lim == nil {
		if len(e.limiters) > 100_000 {
			e.limiters = map[string]*rate.Limiter{} // bounded memory; limits restart
		}
		lim = rate.NewLimiter(rate.Limit(float64(e.cfg.RunsPerMinute)/60), e.cfg.RunsPerMinute)
		e.limiters[user] = lim
	}
	return lim.Allow()
}

// Release implements actors.AIEngine.
func (e *Engine) Release(run string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	user, ok := e.admitted[run]
	if !ok {
		return
	}
	delete(e.admitted, run)
	if e.running[user]--; e.running[user] <= 0 {
		delete(e.running, user)
	}
}

// Enqueue implements actors.AIEngine.
func (e *Engine) Enqueue(ctx context.Context, job aicard.Job) error {
	data, err := json.Marshal(job)
	if err != nil {
		return err
	}
	_, err = e.cfg.JS.Publish(ctx, e.cfg.Names.AIJobs(), data, jetstream.WithMsgID(job.Run))
	return err
}

// Cancel implements actors.AIEngine: every engine hears it, the one
// running the job stops it.
func (e *Engine) Cancel(run string) {
	if err := e.cfg.Conn.Publish(e.cfg.Names.AICancel(), []byte(run)); err != nil {
		e.log.Warn("publish cancel", "run", run, "err", err)
	}
}

func (e *Engine) cancelLocal(run string) {
	e.mu.Lock()
	cancel := e.local[run]
	if cancel == nil {
		now := time.Now()
		for r, at := range e.cancelled {
			if now.Sub(at) > 2*e.cfg.RunTimeout {
				delete(e.cancelled, r)
			}
		}
		e.cancelled[run] = now
	}
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
