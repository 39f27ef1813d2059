-- AI runs: one row per run of an AI card, for usage reporting. Times are
-- INTEGER microseconds since the Unix epoch in UTC, as in 00001.

-- +goose Up
CREATE TABLE ai_runs (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    canvas_id     TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    outcome       TEXT NOT NULL CHECK (outcome IN ('done', 'error', 'cancelled')),
    error         TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX ai_runs_user_idx ON ai_runs (user_id, created_at);

-- +goose Down
DROP TABLE ai_runs;
