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
	// Redis, when set, counts RunsPerMinute and MaxRunsPerUser for every
	// engine sharing it (see redis.go for the keys). While Redis does not
	// answer within a second, this engine counts on its own and logs a
	// warning. Nil: this engine counts on its own.
	Redis       redis.UniversalClient
	RedisPrefix string
	// Metrics receive every finished run; nil: none.
	Metrics *Metrics
	// Outside, when set, runs every job taken from the work queue instead
	// of the providers in Registry (AI_WORKER_QUEUE: workers outside SKER,
	// reached over RabbitMQ). The run is otherwise the same: streamed to
	// the canvas, committed once, recorded in usage.
	Outside Runner
	// Images gives the images of upstream image cards, sent to the
	// models that take images; nil: they are named in the prompt only.
	Images ImageSource
	// TextOnlyModels are the models that take no images (AI_TEXT_ONLY_MODELS):
	// a run of one gets a note in place of each image.
	TextOnlyModels []string
	// RunSlotTTL is how long a run's slot among its user's runs at once
	// lives in Redis unless its engine refreshes it (every RunSlotTTL/3):
	// how long the runs of a node that died keep counting; default 30s.
	RunSlotTTL time.Duration
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
	if c.RunSlotTTL <= 0 {
		c.RunSlotTTL = 30 * time.Second
	}
}

// Runner runs a job somewhere else than in this process's providers: it
// calls onDelta with each piece of the answer as it arrives and returns
// the usage at the end. A cancelled ctx ends the run; Run then returns
// ctx's error once the runner has given up on it.
type Runner interface {
	Run(ctx context.Context, job aicard.Job, req ai.Request, onDelta func(string) error) (ai.Usage, error)
}

// ImageSource reads the image a card of a canvas shows: the file id must
// be one of that canvas's files, of a type in ai.ImageTypes; any other is
// an error, and the run reads a note instead.
type ImageSource interface {
	Image(ctx context.Context, canvasID, fileID string) (ai.Image, error)
}

// OutsideProvider is the provider name of runs that go to outside workers
// when the card names none and no provider is configured here.
const OutsideProvider = "worker"

// Engine queues, runs and limits AI runs.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	stream jetstream.Stream

	rate  *redis_rate.Limiter // nil without Config.Redis
	redis *redisState         // whether Redis answers

	mu         sync.Mutex
	admitted   map[string]string             // run → user, for runs counted against a user
	admittedAt map[string]time.Time          // run → when it was admitted
	running    map[string]int                // user → runs counted
	limiters   map[string]*rate.Limiter      // user → start rate
	local      map[string]context.CancelFunc // runs executing in this process
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
		admitted: map[string]string{}, admittedAt: map[string]time.Time{}, running: map[string]int{}, limiters: map[string]*rate.Limiter{},
		local: map[string]context.CancelFunc{}, cancelled: map[string]time.Time{}, slots: make(chan struct{}, cfg.Workers), stopped: make(chan struct{}),
	}
	e.redis = &redisState{log: e.log, now: time.Now}
	if cfg.Redis != nil {
		e.rate = redis_rate.NewLimiter(cfg.Redis)
		e.wg.Add(1)
		go e.refreshSlots()
	}
	e.cancelSub, err = cfg.Conn.Subscribe(cfg.Names.AICancel(), func(m *nats.Msg) { e.cancelLocal(string(m.Data)) })
	if err != nil {
		return nil, fmt.Errorf("aiengine: subscribe %s: %w", cfg.Names.AICancel(), err)
	}
	return e, nil
}

// Providers lists the configured providers and models (never keys); with
// outside workers, OutsideProvider too, whose models the workers choose.
func (e *Engine) Providers() []ai.ProviderInfo {
	list := e.cfg.Registry.List()
	if e.cfg.Outside != nil {
		list = append(list, ai.ProviderInfo{Name: OutsideProvider, Models: []string{}})
	}
	return list
}

// Resolve implements actors.AIEngine. With outside workers, a card that
// names no provider when none is configured here, or names
// OutsideProvider, goes to them with the model as the card names it ("":
// the worker's choice).
func (e *Engine) Resolve(provider, model string) (string, string, error) {
	if e.cfg.Outside != nil {
		if _, ok := e.cfg.Registry.Default(); provider == OutsideProvider || (provider == "" && !ok) {
			return OutsideProvider, model, nil
		}
	}
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

// Admit implements actors.AIEngine. The run's slot among the user's runs
// at once is taken first (in Redis, or in this process), then one of the
// user's runs this minute; a run refused by the latter gives its slot back.
func (e *Engine) Admit(user, run string) error {
	slotShared, ok := e.acquireShared(user, run)
	if slotShared && !ok {
		return e.limitError()
	}
	e.mu.Lock()
	if !slotShared && e.running[user] >= e.cfg.MaxRunsPerUser {
		e.mu.Unlock()
		return e.limitError()
	}
	e.mu.Unlock()
	rateShared, allowed := e.allowShared(user)

	e.mu.Lock()
	// Again: e.mu was let go.
	if !slotShared && e.running[user] >= e.cfg.MaxRunsPerUser {
		e.mu.Unlock()
		return e.limitError()
	}
	if !rateShared {
		allowed = e.allowLocal(user)
	}
	if allowed {
		e.running[user]++
		e.admitted[run] = user
		e.admittedAt[run] = time.Now()
	}
	e.mu.Unlock()
	if !allowed {
		if slotShared {
			e.releaseShared(user, run)
		}
		return &canvas.OpError{Code: apierr.CodeAIRateLimited, Index: 0,
			Message: fmt.Sprintf("at most %d AI runs a minute per user", e.cfg.RunsPerMinute)}
	}
	return nil
}

// limitError refuses a run past MaxRunsPerUser.
func (e *Engine) limitError() error {
	return &canvas.OpError{Code: apierr.CodeAILimit, Index: 0,
		Message: fmt.Sprintf("at most %d AI runs at once per user; wait for one to finish", e.cfg.MaxRunsPerUser)}
}

// allowShared spends one of user's runs this minute in Redis. shared is
// false without Redis or when Redis did not answer: then the caller
// counts in this process.
func (e *Engine) allowShared(user string) (shared, allowed bool) {
	if e.rate == nil || !e.redis.try() {
		return false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	res, err := e.rate.Allow(ctx, e.cfg.RedisPrefix+"ai:runs:"+user, redis_rate.PerMinute(e.cfg.RunsPerMinute))
	if err != nil {
		e.redis.failed("runs per minute", err)
		return false, false
	}
	e.redis.answered()
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

// Release implements actors.AIEngine. Only the engine that admitted run
// counts it; on another (a worker's), Release does nothing.
func (e *Engine) Release(run string) {
	e.mu.Lock()
	user, ok := e.admitted[run]
	if ok {
		delete(e.admitted, run)
		delete(e.admittedAt, run)
		if e.running[user]--; e.running[user] <= 0 {
			delete(e.running, user)
		}
	}
	e.mu.Unlock()
	if ok {
		e.releaseShared(user, run)
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
