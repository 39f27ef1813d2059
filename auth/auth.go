// Package auth is SKER's identity layer: accounts with bcrypt password
// hashes, short-lived JWT access tokens, rotating refresh tokens with reuse
// detection, long-lived API tokens for integrations, and login rate
// limiting behind a small Limiter interface.
//
// Every error a client may see is an *apierr.Error (or a *LimitedError,
// which unwraps to one); anything else is an internal failure.
package auth

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/skerhq/sker/store"
	"golang.org/x/crypto/bcrypt"
)

// Issuer is the iss claim of every access token SKER signs and accepts.
const Issuer = "sker"

// Defaults applied by New to zero fields of Config.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	DefaultBcryptCost = 12
	// MinSecretLen is the shortest HMAC secret New accepts.
	MinSecretLen = 32
)

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// Secret signs access tokens (HS256). At least MinSecretLen bytes;
	// required.
	Secret []byte
	// AccessTTL is the lifetime of an access token. Zero means
	// DefaultAccessTTL (15m).
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token. Zero means
	// DefaultRefreshTTL (30 days).
	RefreshTTL time.Duration
	// BcryptCost is the bcrypt work factor for new password hashes. Zero
	// means DefaultBcryptCost (12); tests use bcrypt.MinCost.
	BcryptCost int
	// LoginPerIP limits failed logins from one client address. Zero means
	// 20 failures per 15 minutes.
	LoginPerIP Rule
	// LoginPerAccount limits failed logins for one email (known or not).
	// Zero means 5 failures per 15 minutes; a successful login resets it.
	LoginPerAccount Rule
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Validate reports a configuration New cannot work with.
func (c Config) Validate() error {
	if len(c.Secret) < MinSecretLen {
		return errors.New("auth: Secret: want at least 32 bytes")
	}
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		return errors.New("auth: BcryptCost: want 4..31")
	}
	if c.AccessTTL < 0 || c.RefreshTTL < 0 {
		return errors.New("auth: AccessTTL, RefreshTTL: want a positive duration")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.AccessTTL == 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = DefaultBcryptCost
	}
	if c.LoginPerIP == (Rule{}) {
		c.LoginPerIP = Rule{Limit: 20, Window: 15 * time.Minute}
	}
	if c.LoginPerAccount == (Rule{}) {
		c.LoginPerAccount = Rule{Limit: 5, Window: 15 * time.Minute}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service registers and authenticates users. It is safe for concurrent use.
type Service struct {
	cfg       Config
	st        store.Store
	lim       Limiter
	log       *slog.Logger
	dummyHash []byte // compared against when a login names no user
	revs      revocations
}

// New returns a Service. It panics when cfg fails Validate: the secret comes
// from validated configuration or LoadOrCreateSecret, so a bad one is a
// programming error. A nil lim means an in-memory limiter; a nil log
// discards.
func New(cfg Config, st store.Store, lim Limiter, log *slog.Logger) *Service {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg.setDefaults()
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	if lim == nil {
		lim = NewMemoryLimiter(0, cfg.Now)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Service{cfg: cfg, st: st, lim: lim, log: log}
	// The dummy hash has the production cost so that a login for an
	// unknown email takes as long as one for a known email.
	h, err := s.hashPassword("dummy password for timing")
	if err != nil {
		panic(err)
	}
	s.dummyHash = h
	return s
}

// AccessTTL is the lifetime of the access tokens this Service issues.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }

// now is the clock, at the microsecond precision the stores keep, so what
// an answer shows equals what a later read returns.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
