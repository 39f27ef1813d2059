package store

import "errors"

// Sentinel errors every Store implementation returns for expected failures.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key is taken, or a conditional write lost.
	ErrConflict = errors.New("store: conflict")
	// ErrLastOwner: the change would leave a canvas without an owner.
	ErrLastOwner = errors.New("store: last owner")
)
