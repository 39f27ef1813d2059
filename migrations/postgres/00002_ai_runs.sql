-- AI runs: one row per run of an AI card, for usage reporting.

-- +goose Up
CREATE TABLE ai_runs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT NOT NULL,
    canvas_id     TEXT NOT NULL,
    node_id       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    duration_ms   BIGINT NOT NULL DEFAULT 0,
    outcome       TEXT NOT NULL CHECK (outcome IN ('done', 'error', 'cancelled')),
    error         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_runs_user_idx ON ai_runs (user_id, created_at);

-- +goose Down
DROP TABLE ai_runs;
