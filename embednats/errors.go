package embednats

import "errors"

// ErrNotReady is returned by Start when the server does not become ready
// for connections in time, or stops while starting. The wrapped message
// carries nats-server's own reason when it gave one (a port in use, a store
// folder that cannot be written).
var ErrNotReady = errors.New("embednats: server not ready")
