-- Versions of a canvas: points of its history whose whole state is kept, so
-- that history survives the trimming of the journal. kind is auto (taken
-- from a checkpoint), named (a member named it) or ai (just before an AI
-- run wrote its answer). state is the canvas's canonical export at seq
-- (canvas.Export as JSON); authors a JSON array of the user ids who
-- committed batches since the previous point. Times are INTEGER
-- microseconds since the Unix epoch in UTC, as in 00001.

-- +goose Up
CREATE TABLE canvas_versions (
    canvas_id  TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    kind       TEXT NOT NULL CHECK (kind IN ('auto', 'named', 'ai')),
    name       TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    authors    TEXT NOT NULL DEFAULT '[]',
    state      BLOB NOT NULL,
    PRIMARY KEY (canvas_id, seq, kind)
) STRICT;
-- The retention sweep finds old versions by time.
CREATE INDEX canvas_versions_created_idx ON canvas_versions (created_at);

-- +goose Down
DROP TABLE canvas_versions;
