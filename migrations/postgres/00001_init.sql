-- SKER's initial schema for PostgreSQL. Ids are TEXT (UUIDs for users and
-- canvases, client-chosen strings for nodes and edges) with the "C"
-- collation: they order byte by byte, as in SQLite and Go, whatever the
-- database's locale, and compare faster. JSON is kept as TEXT so the bytes
-- the application wrote come back unchanged.

-- +goose Up
CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL,
    -- email_lower is the email lower-cased by the application (Go's
    -- strings.ToLower, the same in both dialects); it makes emails unique
    -- case-insensitively.
    email_lower   TEXT COLLATE "C" NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE refresh_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    replaced_by TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- created_by has no foreign key: a canvas keeps its history when its
-- creator's account goes.
CREATE TABLE canvases (
    id         TEXT COLLATE "C" PRIMARY KEY,
    title      TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_by TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE canvas_members (
    canvas_id  TEXT COLLATE "C" NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (canvas_id, user_id)
);
CREATE INDEX canvas_members_user_idx ON canvas_members (user_id);

-- Nodes and edges by canvas use their primary keys; author_id has no
-- foreign key because authors include AI agents.
CREATE TABLE nodes (
    canvas_id  TEXT COLLATE "C" NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id         TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    x          DOUBLE PRECISION NOT NULL,
    y          DOUBLE PRECISION NOT NULL,
    w          DOUBLE PRECISION NOT NULL,
    h          DOUBLE PRECISION NOT NULL,
    z          BIGINT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    author_id  TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (canvas_id, id)
);
CREATE INDEX nodes_author_idx ON nodes (author_id);

-- Edges have no foreign keys to nodes: a delta may carry an edge before the
-- node it points to, and the canvas actor deletes dangling edges itself.
CREATE TABLE edges (
    canvas_id  TEXT COLLATE "C" NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id         TEXT COLLATE "C" NOT NULL,
    source     TEXT COLLATE "C" NOT NULL,
    target     TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    author_id  TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (canvas_id, id)
);
CREATE INDEX edges_source_idx ON edges (canvas_id, source);
CREATE INDEX edges_target_idx ON edges (canvas_id, target);

CREATE TABLE checkpoints (
    canvas_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES canvases (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL CHECK (seq >= 0),
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE checkpoints;
DROP TABLE edges;
DROP TABLE nodes;
DROP TABLE canvas_members;
DROP TABLE canvases;
DROP TABLE api_tokens;
DROP TABLE refresh_tokens;
DROP TABLE users;
