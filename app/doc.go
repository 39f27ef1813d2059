// Package app assembles one sker process from its configuration: the store,
// NATS (embedded or external), the journal, the canvas actors, auth and the
// HTTP/WebSocket server; it runs them until asked to stop and shuts them
// down in order.
package app
