package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

const userCols = "id, email, name, password_hash, created_at, sessions_revoked_at"

func userDest(u *User) []any {
	return []any{&u.ID, &u.Email, &u.Name, &u.PasswordHash, timeCol{&u.CreatedAt}, nullTimeCol{&u.SessionsRevokedAt}}
}

// CreateUser implements Store. The email is unique by its Go lower-case
// form (users.email_lower), which is the same in both databases, unlike
// SQL's lower() outside ASCII.
func (s *sqlStore) CreateUser(ctx context.Context, u User) error {
	_, err := s.write.exec(ctx,
		"INSERT INTO users (id, email, email_lower, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		u.ID, u.Email, strings.ToLower(u.Email), u.Name, u.PasswordHash, u.CreatedAt)
	return s.fail(err, "create user %s", u.ID)
}

// UserByID implements Store.
func (s *sqlStore) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	err := queryOne(ctx, s.read, "SELECT "+userCols+" FROM users WHERE id = ?", []any{id}, userDest(&u)...)
	return u, s.fail(err, "user %s", id)
}

// UserByEmail implements Store.
func (s *sqlStore) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := queryOne(ctx, s.read, "SELECT "+userCols+" FROM users WHERE email_lower = ?",
		[]any{strings.ToLower(email)}, userDest(&u)...)
	return u, s.fail(err, "user by email")
}

const refreshCols = "id, user_id, token_hash, created_at, expires_at, revoked_at, replaced_by, session_id"

const insertRefresh = "INSERT INTO refresh_tokens (" + refreshCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

func refreshArgs(t RefreshToken) []any {
	return []any{t.ID, t.UserID, t.TokenHash, t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.ReplacedBy, t.SessionID}
}

// CreateRefreshToken implements Store.
func (s *sqlStore) CreateRefreshToken(ctx context.Context, t RefreshToken) error {
	_, err := s.write.exec(ctx, insertRefresh, refreshArgs(t)...)
	return s.fail(err, "create refresh token %s", t.ID)
}

// RefreshTokenByHash implements Store.
func (s *sqlStore) RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error) {
	var t RefreshToken
	err := queryOne(ctx, s.read, "SELECT "+refreshCols+" FROM refresh_tokens WHERE token_hash = ?", []any{hash},
		&t.ID, &t.UserID, &t.TokenHash, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, nullTimeCol{&t.RevokedAt}, &t.ReplacedBy, &t.SessionID)
	return t, s.fail(err, "refresh token by hash")
}

// RotateRefreshToken implements Store. The conditional UPDATE is the whole
// race: of two concurrent callers, the second finds revoked_at set (on
// PostgreSQL it waits for the first's row lock, then re-checks) and
// affects no row.
func (s *sqlStore) RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		err := execOne(ctx, q,
			"UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?",
			now, next.ID, oldHash, now)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, insertRefresh, refreshArgs(next)...)
		return err
	})
	return s.fail(err, "rotate refresh token into %s", next.ID)
}

// RevokeRefreshToken implements Store.
func (s *sqlStore) RevokeRefreshToken(ctx context.Context, hash string, now time.Time) error {
	_, err := s.write.exec(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", now, hash)
	return s.fail(err, "revoke refresh token")
}

// SessionEnded implements Store. A token older than sessions is a session
// of its own id.
func (s *sqlStore) SessionEnded(ctx context.Context, sessionID string) (bool, error) {
	var one int
	err := queryOne(ctx, s.read,
		"SELECT 1 FROM refresh_tokens WHERE (session_id = ? OR (session_id = '' AND id = ?)) AND revoked_at IS NOT NULL AND replaced_by = '' LIMIT 1",
		[]any{sessionID, sessionID}, &one)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, s.fail(err, "session %s", sessionID)
}

// RevokeUserRefreshTokens implements Store.
func (s *sqlStore) RevokeUserRefreshTokens(ctx context.Context, userID string, now time.Time) error {
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", now, userID); err != nil {
			return err
		}
		_, err := q.exec(ctx, "UPDATE users SET sessions_revoked_at = ? WHERE id = ?", now, userID)
		return err
	})
	return s.fail(err, "revoke refresh tokens of user %s", userID)
}

const apiTokenCols = "id, user_id, name, token_hash, created_at, expires_at, last_used_at"

func apiTokenDest(t *APIToken) []any {
	return []any{&t.ID, &t.UserID, &t.Name, &t.TokenHash, timeCol{&t.CreatedAt}, nullTimeCol{&t.ExpiresAt}, nullTimeCol{&t.LastUsedAt}}
}

// CreateAPIToken implements Store.
func (s *sqlStore) CreateAPIToken(ctx context.Context, t APIToken) error {
	_, err := s.write.exec(ctx, "INSERT INTO api_tokens ("+apiTokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.UserID, t.Name, t.TokenHash, t.CreatedAt, t.ExpiresAt, t.LastUsedAt)
	return s.fail(err, "create api token %s", t.ID)
}

// APITokenByHash implements Store.
func (s *sqlStore) APITokenByHash(ctx context.Context, hash string, now time.Time) (APIToken, error) {
	var t APIToken
	err := queryOne(ctx, s.read,
		"SELECT "+apiTokenCols+" FROM api_tokens WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?)",
		[]any{hash, now}, apiTokenDest(&t)...)
	return t, s.fail(err, "api token by hash")
}

// ListAPITokens implements Store: newest first, an empty slice when none.
func (s *sqlStore) ListAPITokens(ctx context.Context, userID string) ([]APIToken, error) {
	list := []APIToken{}
	err := queryAll(ctx, s.read, "SELECT "+apiTokenCols+" FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id",
		[]any{userID}, func(r rows) error {
			var t APIToken
			err := r.Scan(apiTokenDest(&t)...)
			list = append(list, t)
			return err
		})
	return list, s.fail(err, "list api tokens of user %s", userID)
}

// DeleteAPIToken implements Store.
func (s *sqlStore) DeleteAPIToken(ctx context.Context, userID, id string) error {
	err := execOne(ctx, s.write, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", id, userID)
	return s.fail(err, "delete api token %s", id)
}

// TouchAPIToken implements Store; ErrNotFound when the token is gone.
func (s *sqlStore) TouchAPIToken(ctx context.Context, id string, now time.Time) error {
	err := execOne(ctx, s.write, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", now, id)
	return s.fail(err, "touch api token %s", id)
}
