package gateway

// WebSocket close codes SKER uses, besides the standard 1000 (normal), 1001
// (going away: server shutdown), 1002 (a close frame with a one-byte
// payload), 1007 (a text frame that is not UTF-8) and 1009 (frame too
// large). They are part of the protocol (docs/protocol.md).
const (
	CloseUnauthorized  = 4001 // missing, invalid or expired token
	CloseAuthTimeout   = 4002 // no auth frame in time
	CloseProtocolError = 4003 // too many malformed frames
	CloseSlowConsumer  = 4008 // the send queue overflowed
	CloseRateLimited   = 4009 // sustained flooding after rate-limit errors
	CloseIdle          = 4010 // no frame or pong within the read timeout
)

// Error codes of "error" and "reject" frames, besides the op validation
// codes of package canvas. They are part of the protocol.
const (
	CodeBadFrame        = "bad_frame"         // not a JSON frame of a known type
	CodeNotFound        = "not_found"         // no such canvas, or not a member
	CodeNotJoined       = "not_joined"        // ops or presence for a canvas not joined
	CodeTooManyCanvases = "too_many_canvases" // over the joined-canvases limit
	CodeRateLimited     = "rate_limited"      // over the ops-per-second limit
	CodeUnavailable     = "unavailable"       // canvas unavailable; nothing committed
	CodeOutcomeUnknown  = "outcome_unknown"   // commit outcome unknown; rejoin with since
	CodeInternal        = "internal"          // unexpected server error
	CodeAlreadyAuthed   = "already_authenticated"
)
