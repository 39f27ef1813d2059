// Package actors runs one supervised canvas actor (protoactor-go) per
// active canvas. The actor owns the canvas's state, orders every change,
// journals it (package journal) before acknowledging it, publishes what it
// committed for the gateways to fan out, and checkpoints the state to the
// store behind that path.
//
// Hub is the package's front door and the node's implementation of the
// canvas contract (package canvases): callers (HTTP handlers, the WebSocket
// gateway, the AI engine, the bridge) submit batches and read snapshots
// through it; it activates canvases on first use and passivates idle ones.
// Its errors are the contract's (canvases.ErrNotFound, ErrUnavailable,
// ErrOutcomeUnknown, ErrHistoryTrimmed, ErrStaleRun); a rejected batch is a
// *canvas.OpError.
//
// In a cluster (Config.Ownership), an actor claims its canvas before it
// loads it, sends nothing to the journal once its claim is no longer
// valid, and gives the claim back when it stops; Hub.Handoff gives a
// canvas up for another node to own, and Hub.Owns and Hub.Owned say which
// canvases this node owns.
package actors
