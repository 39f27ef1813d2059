// Package rolecache keeps canvas roles in memory: every authenticated
// request and every batch asks the store "what is this user on this
// canvas?", and the answer changes only when a member is added, changed or
// removed, or a canvas deleted.
//
// A Cache is a store.Store whose Role answers come from memory for up to
// a TTL. Its own member changes invalidate at once (a node reads its own
// writes); the other nodes' reach it through Invalidate, which the app
// calls for every membership event on NATS. A node that misses an event
// (cut off) serves an old role for at most the TTL.
package rolecache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skerhq/sker/store"
)

// Defaults of Config.
const (
	DefaultSize = 10_000
	DefaultTTL  = 30 * time.Second
)

// Config configures a Cache.
type Config struct {
	Size       int                   // entries kept; zero: DefaultSize
	TTL        time.Duration         // how long an answer is trusted; zero: DefaultTTL
	Registerer prometheus.Registerer // receives sker_cache_lookups_total; nil: none
}

type key struct{ canvas, user string }

type entry struct {
	role store.Role
	err  error // nil or store.ErrNotFound
}

// Cache is a store.Store with Role answered from memory.
type Cache struct {
	store.Store
	lru *expirable.LRU[key, entry]
	// gen counts invalidations: an answer read from the store is kept
	// only if no invalidation came while it was read, so that a read
	// racing a change cannot put the old role back.
	gen          atomic.Uint64
	mu           sync.Mutex // serialises Add with the gen check
	hits, misses prometheus.Counter
}

// New returns a Cache in front of st.
func New(st store.Store, cfg Config) *Cache {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sker_cache_lookups_total",
		Help: "Lookups of the in-memory caches, by cache and result (hit or miss); the hit rate is hit / (hit + miss).",
	}, []string{"cache", "result"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(lookups)
	}
	return &Cache{Store: st, lru: expirable.NewLRU[key, entry](cfg.Size, nil, cfg.TTL),
		hits: lookups.WithLabelValues("roles", "hit"), misses: lookups.WithLabelValues("roles", "miss")}
}

// Role implements store.Store.
func (c *Cache) Role(ctx context.Context, canvasID, userID string) (store.Role, error) {
	k := key{canvasID, userID}
	if e, ok := c.lru.Get(k); ok {
		c.hits.Inc()
		return e.role, e.err
	}
	c.misses.Inc()
	gen := c.gen.Load()
	role, err := c.Store.Role(ctx, canvasID, userID)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		c.mu.Lock()
		if c.gen.Load() == gen {
			c.lru.Add(k, entry{role: role, err: err})
		}
		c.mu.Unlock()
	}
	return role, err
}

// Invalidate forgets userID's role on canvasID, or every role on canvasID
// when userID is empty (the canvas was deleted).
func (c *Cache) Invalidate(canvasID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if userID != "" {
		c.lru.Remove(key{canvasID, userID})
		return
	}
	for _, k := range c.lru.Keys() {
		if k.canvas == canvasID {
			c.lru.Remove(k)
		}
	}
}

// AddMember implements store.Store.
func (c *Cache) AddMember(ctx context.Context, canvasID, userID string, role store.Role, now time.Time) error {
	defer c.Invalidate(canvasID, userID)
	return c.Store.AddMember(ctx, canvasID, userID, role, now)
}

// SetMemberRole implements store.Store.
func (c *Cache) SetMemberRole(ctx context.Context, canvasID, userID string, role store.Role) error {
	defer c.Invalidate(canvasID, userID)
	return c.Store.SetMemberRole(ctx, canvasID, userID, role)
}

// RemoveMember implements store.Store.
func (c *Cache) RemoveMember(ctx context.Context, canvasID, userID string) error {
	defer c.Invalidate(canvasID, userID)
	return c.Store.RemoveMember(ctx, canvasID, userID)
}

// DeleteCanvas implements store.Store.
func (c *Cache) DeleteCanvas(ctx context.Context, id string) error {
	defer c.Invalidate(id, "")
	return c.Store.DeleteCanvas(ctx, id)
}
