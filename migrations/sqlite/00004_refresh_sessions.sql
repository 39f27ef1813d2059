-- A session is one sign-in: its refresh tokens, rotated one into the next,
-- share the id of the first (session_id; '' in rows older than this
-- migration: such a token is a session of its own id), and its access
-- tokens carry it (the sid claim), so that signing out of one session ends
-- its access tokens too, on every node.

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- +goose Down
DROP INDEX refresh_tokens_session_idx;
ALTER TABLE refresh_tokens DROP COLUMN session_id;
