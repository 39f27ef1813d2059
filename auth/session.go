package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skerhq/sker/store"
)

// Session is what a client receives on register, login and refresh.
type Session struct {
	User             store.User
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// Register creates an account and signs it in. The email is validated and
// normalized, the password must satisfy ValidatePassword, and an empty name
// becomes the email's local part. A taken email gives ErrEmailTaken.
func (s *Service) Register(ctx context.Context, email, password, name string) (Session, error) {
	email, err := ValidateEmail(email)
	if err != nil {
		return Session{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return Session{}, err
	}
	name, err = ValidateName(name, email)
	if err != nil {
		return Session{}, err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return Session{}, fmt.Errorf("auth: hash password: %w", err)
	}
	id, err := newID()
	if err != nil {
		return Session{}, err
	}
	u := store.User{ID: id, Email: email, Name: name, PasswordHash: string(hash), CreatedAt: s.now().UTC()}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Session{}, ErrEmailTaken
		}
		return Session{}, fmt.Errorf("auth: create user: %w", err)
	}
	return s.newSession(ctx, u)
}

// Login checks an email and password from the client at ip. Failures count
// against ip (LoginPerIP) and the email (LoginPerAccount, even for unknown
// emails); past either limit Login returns a *LimitedError without checking
// the password. Success resets the email's count.
func (s *Service) Login(ctx context.Context, email, password, ip string) (Session, error) {
	email = NormalizeEmail(email)
	ipKey, acctKey := "login:ip:"+ip, "login:email:"+email
	for _, k := range []struct {
		key  string
		rule Rule
	}{{ipKey, s.cfg.LoginPerIP}, {acctKey, s.cfg.LoginPerAccount}} {
		wait, err := s.lim.Check(ctx, k.key, k.rule)
		if err != nil {
			return Session{}, fmt.Errorf("auth: rate limit: %w", err)
		}
		if wait > 0 {
			return Session{}, &LimitedError{RetryAfter: wait}
		}
	}
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, fmt.Errorf("auth: find user: %w", err)
	}
	known := err == nil
	hash := s.dummyHash
	if known {
		hash = []byte(u.PasswordHash)
	}
	if ok := checkPassword(hash, password); !ok || !known {
		if err := s.lim.Fail(ctx, ipKey, s.cfg.LoginPerIP); err != nil {
			return Session{}, fmt.Errorf("auth: rate limit: %w", err)
		}
		if err := s.lim.Fail(ctx, acctKey, s.cfg.LoginPerAccount); err != nil {
			return Session{}, fmt.Errorf("auth: rate limit: %w", err)
		}
		return Session{}, ErrInvalidCredentials
	}
	if err := s.lim.Reset(ctx, acctKey); err != nil {
		return Session{}, fmt.Errorf("auth: rate limit: %w", err)
	}
	return s.newSession(ctx, u)
}

// Refresh exchanges a refresh token for a new session, rotating it: the
// presented token is revoked and replaced. Presenting a token that was
// already rotated means two parties hold it (theft, or a client that raced
// itself): every refresh token of the user is revoked and Refresh returns
// ErrRefreshReused. Other unusable tokens give ErrRefreshInvalid.
func (s *Service) Refresh(ctx context.Context, refresh string) (Session, error) {
	if refresh == "" {
		return Session{}, ErrRefreshInvalid
	}
	now := s.now()
	hash := HashToken(refresh)
	old, err := s.st.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrRefreshInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: find refresh token: %w", err)
	}
	if old.RevokedAt != nil {
		if old.ReplacedBy != "" {
			return Session{}, s.reused(ctx, old, now)
		}
		return Session{}, ErrRefreshInvalid
	}
	if !now.Before(old.ExpiresAt) {
		return Session{}, ErrRefreshInvalid
	}
	u, err := s.st.UserByID(ctx, old.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrRefreshInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: find user: %w", err)
	}
	next, tok, err := s.newRefresh(u.ID, old.Session(), now)
	if err != nil {
		return Session{}, err
	}
	if err := s.st.RotateRefreshToken(ctx, hash, next, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Another request rotated it between our read and now.
			return Session{}, s.reused(ctx, old, now)
		}
		return Session{}, fmt.Errorf("auth: rotate refresh token: %w", err)
	}
	return s.session(u, tok, next)
}

func (s *Service) reused(ctx context.Context, old store.RefreshToken, now time.Time) error {
	s.log.WarnContext(ctx, "auth: refresh token reused; revoking all sessions",
		"user_id", old.UserID, "token_id", old.ID)
	if err := s.st.RevokeUserRefreshTokens(ctx, old.UserID, now); err != nil {
		return fmt.Errorf("auth: revoke refresh tokens: %w", err)
	}
	s.revoked(old.UserID, "")
	return ErrRefreshReused
}

// Logout ends the sign-in a refresh token belongs to: the token is
// revoked, the sign-in's access tokens are refused from now on (on every
// node: the store says so), and the listeners are told, so that its
// connections close. An unknown or already revoked token is not an error:
// logging out twice succeeds.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	if refresh == "" {
		return ErrRefreshInvalid
	}
	hash := HashToken(refresh)
	t, err := s.st.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: find refresh token: %w", err)
	}
	if t.RevokedAt != nil {
		return nil // already signed out, or rotated: this token ends nothing
	}
	if err := s.st.RevokeRefreshToken(ctx, hash, s.now()); err != nil {
		return fmt.Errorf("auth: revoke refresh token: %w", err)
	}
	s.sessionEnded(t.UserID, t.Session())
	return nil
}

// LogoutEverywhere signs userID out of every sign-in: every refresh token
// is revoked and every access token issued so far is refused, on every
// node, and the listeners are told, so that the user's connections close.
func (s *Service) LogoutEverywhere(ctx context.Context, userID string) error {
	if err := s.st.RevokeUserRefreshTokens(ctx, userID, s.now()); err != nil {
		return fmt.Errorf("auth: revoke refresh tokens: %w", err)
	}
	s.revoked(userID, "")
	return nil
}

// newSession stores a fresh refresh token for u and signs an access token.
func (s *Service) newSession(ctx context.Context, u store.User) (Session, error) {
	rt, tok, err := s.newRefresh(u.ID, "", s.now())
	if err != nil {
		return Session{}, err
	}
	if err := s.st.CreateRefreshToken(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("auth: store refresh token: %w", err)
	}
	return s.session(u, tok, rt)
}

// newRefresh makes a refresh token of userID in the sign-in sessionID;
// "": a new sign-in, of the token's own id.
func (s *Service) newRefresh(userID, sessionID string, now time.Time) (store.RefreshToken, string, error) {
	tok, err := randomToken("")
	if err != nil {
		return store.RefreshToken{}, "", err
	}
	id, err := newID()
	if err != nil {
		return store.RefreshToken{}, "", err
	}
	now = now.UTC()
	return store.RefreshToken{ID: id, UserID: userID, TokenHash: HashToken(tok),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL), SessionID: cmp.Or(sessionID, id)}, tok, nil
}

// session signs an access token of rt's sign-in for u.
func (s *Service) session(u store.User, refresh string, rt store.RefreshToken) (Session, error) {
	access, exp, err := s.issueAccess(u.ID, rt.Session())
	if err != nil {
		return Session{}, err
	}
	return Session{User: u, AccessToken: access, AccessExpiresAt: exp,
		RefreshToken: refresh, RefreshExpiresAt: rt.ExpiresAt}, nil
}
