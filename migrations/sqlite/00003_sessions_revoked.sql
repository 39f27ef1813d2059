-- Signing a user out everywhere (a reused refresh token) must also end the
-- access tokens already issued: those issued up to sessions_revoked_at are
-- refused. INTEGER microseconds since the Unix epoch in UTC, as in 00001.

-- +goose Up
ALTER TABLE users ADD COLUMN sessions_revoked_at INTEGER;

-- +goose Down
ALTER TABLE users DROP COLUMN sessions_revoked_at;
