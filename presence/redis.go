package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisConfig.
const (
	DefaultTTL     = 15 * time.Second
	DefaultTimeout = time.Second
)

// queueLen bounds the writes waiting for Redis; past it a write is dropped
// (a join comes back with the next renewal, a leave expires with its TTL).
const queueLen = 4096

// RedisConfig configures a Redis directory.
type RedisConfig struct {
	Client redis.UniversalClient
	// Prefix starts every key ("sker:" gives "sker:presence:<canvas>").
	Prefix string
	Node   string // this node's name
	// TTL is how long an entry lives without being renewed: how long a
	// node that died stays listed. Zero: DefaultTTL. Each node renews
	// its entries every TTL/3.
	TTL time.Duration
	// Timeout bounds every Redis call; zero: DefaultTimeout.
	Timeout time.Duration
	Logger  *slog.Logger // nil: slog.Default()
}

// Redis is the Directory of every node sharing one Redis. Each node keeps
// its own connections in a Local and mirrors them, from one goroutine and
// in order, into a sorted set per canvas (key Prefix + "presence:" +
// canvas) whose members are "<node> <session> <user>" (separated by
// 0x1f) scored by when they expire (unix milliseconds, by the writing
// node's clock). A node renews its entries every TTL/3, so those of a
// node that died vanish after TTL; a connection that leaves is removed at
// once. Readers skip expired entries, and the renewals remove them.
//
// While Redis does not answer, Here answers this node's own connections
// with an error, and the writes wait for the next renewal; nothing blocks
// longer than Timeout.
type Redis struct {
	cfg   RedisConfig
	local *Local
	ops   chan op
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	warnMu   sync.Mutex
	warnedAt time.Time
}

type op struct {
	add            bool
	canvas, member string
}

var _ Directory = (*Redis)(nil)

// NewRedis starts a Redis directory; Close stops it.
func NewRedis(cfg RedisConfig) *Redis {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Redis{cfg: cfg, local: NewLocal(cfg.Node), ops: make(chan op, queueLen),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *Redis) key(canvasID string) string { return r.cfg.Prefix + "presence:" + canvasID }

const sep = "\x1f"

func member(node, session, user string) string { return node + sep + session + sep + user }

func parseMember(m string) (Entry, bool) {
	parts := strings.Split(m, sep)
	if len(parts) != 3 {
		return Entry{}, false
	}
	return Entry{Node: parts[0], Session: parts[1], User: parts[2]}, true
}

// Joined implements Directory.
func (r *Redis) Joined(canvasID, session, user string) {
	r.local.Joined(canvasID, session, user)
	r.enqueue(op{add: true, canvas: canvasID, member: member(r.cfg.Node, session, user)})
}

// Left implements Directory.
func (r *Redis) Left(canvasID, session string) {
	r.local.mu.Lock()
	user, ok := r.local.m[canvasID][session]
	r.local.mu.Unlock()
	r.local.Left(canvasID, session)
	if ok {
		r.enqueue(op{canvas: canvasID, member: member(r.cfg.Node, session, user)})
	}
}

func (r *Redis) enqueue(o op) {
	select {
	case r.ops <- o:
	default:
		r.warn("presence: too many writes waiting for Redis; dropped one", errors.New("queue full"))
	}
}

// Here implements Directory: every node's entries, with this node's own
// merged in (a join not yet written is listed too).
func (r *Redis) Here(ctx context.Context, canvasIDs []string) (map[string][]Entry, error) {
	out, _ := r.local.Here(ctx, canvasIDs)
	if len(canvasIDs) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	cmds := make([]*redis.StringSliceCmd, len(canvasIDs))
	_, err := r.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range canvasIDs {
			cmds[i] = p.ZRangeByScore(ctx, r.key(id), &redis.ZRangeBy{Min: "(" + now, Max: "+inf"})
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("presence: redis: %w", err)
	}
	for i, id := range canvasIDs {
		for _, m := range cmds[i].Val() {
			e, ok := parseMember(m)
			if !ok || e.Node == r.cfg.Node {
				continue // this node's own are the Local's, which is current
			}
			out[id] = append(out[id], e)
		}
		if es := out[id]; len(es) > 0 {
			sortEntries(es)
		}
	}
	return out, nil
}

// Close writes what is queued, removes this node's entries from Redis (a
// node that leaves is unlisted at once, not after TTL) and stops; ctx
// bounds the removal.
func (r *Redis) Close(ctx context.Context) error {
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("presence: close: %w", ctx.Err())
	}
	all := r.local.all()
	if len(all) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	_, err := r.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for id, es := range all {
			for _, e := range es {
				p.ZRem(ctx, r.key(id), member(e.Node, e.Session, e.User))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("presence: close: remove this node's entries: %w", err)
	}
	return nil
}

// run writes the queued joins and leaves, in order, and renews this node's
// entries every TTL/3.
func (r *Redis) run() {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.TTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			r.flush() // the leaves of the connections just closed
			return
		case o := <-r.ops:
			batch := []op{o}
		more:
			for len(batch) < 256 {
				select {
				case o := <-r.ops:
					batch = append(batch, o)
				default:
					break more
				}
			}
			r.write(batch)
		case <-tick.C:
			r.renew()
		}
	}
}

// flush writes what is queued.
func (r *Redis) flush() {
	var batch []op
queued:
	for {
		select {
		case o := <-r.ops:
			batch = append(batch, o)
		default:
			break queued
		}
	}
	if len(batch) > 0 {
		r.write(batch)
	}
}

func (r *Redis) expiry() float64 { return float64(time.Now().Add(r.cfg.TTL).UnixMilli()) }

// write sends joins and leaves in one pipeline. A key outlives its last
// renewal by two TTLs, so that the keys of a cluster gone away vanish.
func (r *Redis) write(batch []op) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	exp := r.expiry()
	_, err := r.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range batch {
			k := r.key(o.canvas)
			if o.add {
				p.ZAdd(ctx, k, redis.Z{Score: exp, Member: o.member})
				p.PExpire(ctx, k, 2*r.cfg.TTL)
			} else {
				p.ZRem(ctx, k, o.member)
			}
		}
		return nil
	})
	if err != nil {
		r.warn("presence: write to Redis", err)
	}
}

// renew writes every entry of this node again with a new expiry, and
// removes the expired entries of the canvases it has.
func (r *Redis) renew() {
	all := r.local.all()
	if len(all) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	exp := r.expiry()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	_, err := r.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for id, es := range all {
			k := r.key(id)
			zs := make([]redis.Z, len(es))
			for i, e := range es {
				zs[i] = redis.Z{Score: exp, Member: member(e.Node, e.Session, e.User)}
			}
			p.ZAdd(ctx, k, zs...)
			p.ZRemRangeByScore(ctx, k, "-inf", now)
			p.PExpire(ctx, k, 2*r.cfg.TTL)
		}
		return nil
	})
	if err != nil {
		r.warn("presence: renew in Redis", err)
	}
}

// warn logs at most one warning every 30 s.
func (r *Redis) warn(msg string, err error) {
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	if time.Since(r.warnedAt) < 30*time.Second {
		return
	}
	r.warnedAt = time.Now()
	r.cfg.Logger.Warn(msg+"; the canvas list shows this node's connections only meanwhile", "err", err)
}
