-- SKER's initial schema for SQLite, the same tables as the PostgreSQL one.
-- Tables are STRICT so a value of the wrong type is an error, not a silent
-- conversion. Times are INTEGER microseconds since the Unix epoch in UTC
-- (PostgreSQL's timestamptz precision, so both stores return the same
-- times); the store converts them to and from time.Time. Ids and JSON are
-- TEXT, as in PostgreSQL.

-- +goose Up
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    -- email_lower is the email lower-cased by the application (Go's
    -- strings.ToLower, the same in both dialects); it makes emails unique
    -- case-insensitively.
    email_lower   TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    replaced_by TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- created_by has no foreign key: a canvas keeps its history when its
-- creator's account goes.
CREATE TABLE canvases (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE canvas_members (
    canvas_id  TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (canvas_id, user_id)
) STRICT;
CREATE INDEX canvas_members_user_idx ON canvas_members (user_id);

-- Nodes and edges by canvas use their primary keys; author_id has no
-- foreign key because authors include AI agents.
CREATE TABLE nodes (
    canvas_id  TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    x          REAL NOT NULL,
    y          REAL NOT NULL,
    w          REAL NOT NULL,
    h          REAL NOT NULL,
    z          INTEGER NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    author_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (canvas_id, id)
) STRICT;
CREATE INDEX nodes_author_idx ON nodes (author_id);

-- Edges have no foreign keys to nodes: a delta may carry an edge before the
-- node it points to, and the canvas actor deletes dangling edges itself.
CREATE TABLE edges (
    canvas_id  TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    source     TEXT NOT NULL,
    target     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    author_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (canvas_id, id)
) STRICT;
CREATE INDEX edges_source_idx ON edges (canvas_id, source);
CREATE INDEX edges_target_idx ON edges (canvas_id, target);

CREATE TABLE checkpoints (
    canvas_id  TEXT PRIMARY KEY REFERENCES canvases (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    updated_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE checkpoints;
DROP TABLE edges;
DROP TABLE nodes;
DROP TABLE canvas_members;
DROP TABLE canvases;
DROP TABLE api_tokens;
DROP TABLE refresh_tokens;
DROP TABLE users;
