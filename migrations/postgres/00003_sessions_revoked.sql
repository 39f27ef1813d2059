-- Signing a user out everywhere (a reused refresh token) must also end the
-- access tokens already issued: those issued up to sessions_revoked_at are
-- refused.

-- +goose Up
ALTER TABLE users ADD COLUMN sessions_revoked_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE users DROP COLUMN sessions_revoked_at;
