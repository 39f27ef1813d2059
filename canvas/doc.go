// Package canvas is SKER's change model: the state of one canvas (metadata,
// nodes, edges, seq), the ops that change it, their validation with
// machine-readable codes, atomic application of a batch, and the canonical
// export form.
//
// The package is pure: no I/O, no clocks, no goroutines. The canvas actor
// (package actors) owns one State and is the only caller that mutates it;
// State is not safe for concurrent use.
package canvas
