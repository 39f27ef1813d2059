package apierr

// WebSocket close codes the server sends (docs/protocol.md, section 12).
// They are part of the protocol: never renumber one, only add. The close
// reason is a short text; with CloseUnauthorized it is a code
// (CodeUnauthorized, CodeTokenExpired, CodeInternal) or a sentence.
const (
	// Standard codes (RFC 6455, section 7.4.1).
	CloseNormal        = 1000 // the server's answer to a client's close; the end of a session
	CloseGoingAway     = 1001 // the server is shutting down
	CloseBadCloseFrame = 1002 // protocol error: a close frame with a one-byte payload
	// CloseAbnormal is never sent: it is what a client sees when the
	// connection ends without a close frame (network loss, a write to the
	// client that blocked past the write timeout). The server uses it for
	// a session that ends that way.
	CloseAbnormal    = 1006
	CloseInvalidUTF8 = 1007 // a text message that is not valid UTF-8
	CloseTooBig      = 1009 // a frame over max_frame_bytes

	// SKER's codes.
	CloseUnauthorized  = 4001 // missing, invalid, revoked or expired token
	CloseAuthTimeout   = 4002 // no auth frame in time
	CloseProtocolError = 4003 // too many malformed frames
	CloseSlowConsumer  = 4008 // the send queue overflowed
	CloseRateLimited   = 4009 // reserved for sustained flooding; not sent
	CloseIdle          = 4010 // no frame or pong within the read timeout
	// CloseResync asks the client to reconnect and rejoin with since: the
	// gateway could not fill a gap in the changes it received.
	CloseResync = 4011
)
