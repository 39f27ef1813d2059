-- Comments of a canvas, as of its checkpoint (like nodes and edges): body is
-- the comment as canvas.Comment JSON; mentions the user ids it mentions as
-- ",id1,id2," ('' for none), so that a member's unread mentions are found
-- without decoding bodies; seq the batch that added it.
-- comment_reads holds, per member, the seq up to which they have read a
-- canvas's comments.

-- +goose Up
CREATE TABLE canvas_comments (
    canvas_id TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    id        TEXT NOT NULL,
    thread    TEXT NOT NULL DEFAULT '',
    author_id TEXT NOT NULL,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    mentions  TEXT NOT NULL DEFAULT '',
    body      TEXT NOT NULL,
    PRIMARY KEY (canvas_id, id)
) STRICT;

CREATE TABLE comment_reads (
    canvas_id TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (canvas_id, user_id)
) STRICT;

-- +goose Down
DROP TABLE comment_reads;
DROP TABLE canvas_comments;
