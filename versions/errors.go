package versions

import "errors"

// Errors of rebuilding a seq, matched with errors.Is; the error returned
// wraps one of them with the detail of why.
var (
	// ErrNotRebuildable: no kept state is at or before the seq and the
	// journal no longer holds every batch from it (trimmed between
	// points, or older than the retention).
	ErrNotRebuildable = errors.New("versions: this seq can no longer be rebuilt")
	// ErrFutureSeq: the seq is after the canvas's current seq.
	ErrFutureSeq = errors.New("versions: seq is after the canvas's current seq")
	// ErrBadState: a kept state does not decode.
	ErrBadState = errors.New("versions: kept state is corrupt")
)
