// Package versions is the history of a canvas: rebuilding the canvas as it
// was at any seq from the nearest kept state (store.Version) and the
// journal's batches after it, the difference between two states, and the
// one batch that brings a canvas back to an earlier state (a restore is an
// ordinary change: journaled, live for everyone, undone by another
// restore; nothing is rewritten).
package versions
