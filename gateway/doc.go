// Package gateway serves SKER's WebSocket protocol (docs/protocol.md): it
// authenticates connections, joins them to canvases with exact catch-up,
// forwards their op batches to the canvas actors, and fans committed
// changes and presence out to them.
//
// Each gateway subscribes once per canvas that has local clients to the
// canvas's NATS fanout subject, so the same path serves an actor in this
// process or on another node. A committed batch arrives as one frame,
// encoded once and written to every local client of the canvas; a client
// that cannot keep up is disconnected rather than allowed to stall others.
package gateway
