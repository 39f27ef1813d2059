-- When a file of a canvas was first found referenced by no card of the
-- canvas's state and by nothing its journal still keeps (NULL: referenced,
-- or not looked at yet), in INTEGER microseconds since the Unix epoch in
-- UTC as in 00001. The file sweep deletes the row once this is older than
-- FILE_GRACE, and clears it when a card refers to the file again.

-- +goose Up
ALTER TABLE files ADD COLUMN unreferenced_at INTEGER;
CREATE INDEX files_unreferenced_idx ON files (unreferenced_at) WHERE unreferenced_at IS NOT NULL;

-- +goose Down
DROP INDEX files_unreferenced_idx;
ALTER TABLE files DROP COLUMN unreferenced_at;
