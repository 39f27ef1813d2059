-- Files uploaded to canvases: one row per canvas and content. The content
-- itself is kept by package files under its SHA-256 (id), once however many
-- canvases hold it; type, width and height are sniffed from it, name is the
-- uploader's original file name (metadata only, never a path). created_by
-- has no foreign key, as canvases.created_by: a file stays when its
-- uploader's account goes. Times are INTEGER microseconds since the Unix
-- epoch in UTC, as in 00001.

-- +goose Up
CREATE TABLE files (
    canvas_id  TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    type       TEXT NOT NULL,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    name       TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (canvas_id, id)
) STRICT;
-- Which canvases still hold a content, for removing what none holds.
CREATE INDEX files_id_idx ON files (id);

-- +goose Down
DROP TABLE files;
