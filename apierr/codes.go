package apierr

// Codes of the REST API and of the WebSocket protocol's "error" and
// "reject" frames (docs/api.md, docs/protocol.md). They are part of the
// public protocol: never rename one, only add. A code that both sides use
// (not_found, unavailable, outcome_unknown, a rejected batch's codes) means
// the same on both.
const (
	CodeBadRequest       = "bad_request"
	CodeInvalidField     = "invalid_field"
	CodeUnauthorized     = "unauthorized"
	CodeTokenExpired     = "token_expired"
	CodeForbidden        = "forbidden" // also a viewer's rejected batch
	CodeNotFound         = "not_found" // over WebSocket: no such canvas, or not a member
	CodeConflict         = "conflict"
	CodeEmailTaken       = "email_taken"
	CodeAlreadyMember    = "already_member"
	CodeLastOwner        = "last_owner"
	CodePayloadTooLarge  = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"       // over WebSocket: over the ops-per-second limit
	CodeUnavailable      = "unavailable"        // the canvas or a dependency is unavailable; nothing committed
	CodeInternal         = "internal"           // unexpected server error
	CodeUserNotFound     = "user_not_found"     // adding a member by an email with no account
	CodeMethodNotAllowed = "method_not_allowed" // a known path with the wrong HTTP method
	// CodeOutcomeUnknown: the journal did not answer in time, so a change may
	// or may not have been committed; the client learns which from the
	// canvas's history or snapshot (over WebSocket: a rejoin with since)
	// before it retries.
	CodeOutcomeUnknown = "outcome_unknown"
	// CodeHistoryTrimmed: the changes asked for are older than the history
	// the server keeps; the client takes a snapshot instead.
	CodeHistoryTrimmed = "history_trimmed"
	// CodeInvalidText: a string in the request is not valid UTF-8, or holds
	// a character no store can keep (U+0000, a lone surrogate); field names
	// where. Nothing is stored or replaced: the request changes nothing.
	CodeInvalidText = "invalid_text"
	// CodeHeadersTooLarge: the request's header section is over the server's
	// limit (HTTP 431).
	CodeHeadersTooLarge = "headers_too_large"
	// CodeRequestTimeout: the request's header or body did not arrive
	// within the server's read timeout (HTTP 408); the connection is closed.
	CodeRequestTimeout = "request_timeout"
	// CodeNotImplemented: the request method is not one the server knows
	// (HTTP 501).
	CodeNotImplemented = "not_implemented"
	// CodeFileTooLarge: an uploaded file is over the server's MAX_FILE_SIZE
	// (HTTP 413); nothing was stored.
	CodeFileTooLarge = "file_too_large"
	// CodeQuotaExceeded: an upload would take a canvas's files or a user's
	// uploads past FILE_QUOTA_CANVAS or FILE_QUOTA_USER (HTTP 403).
	CodeQuotaExceeded = "quota_exceeded"
	// CodeRangeNotSatisfiable: a file request's Range lies outside the file
	// (HTTP 416).
	CodeRangeNotSatisfiable = "range_not_satisfiable"
)

// Codes of the WebSocket protocol only.
const (
	CodeBadFrame        = "bad_frame"         // not a JSON frame of a known type
	CodeNotJoined       = "not_joined"        // ops or presence for a canvas not joined
	CodeTooManyCanvases = "too_many_canvases" // over the joined-canvases limit
	CodeAlreadyAuthed   = "already_authenticated"
)

// Codes of a rejected batch, from its validation (package canvas), over
// REST and WebSocket alike; canvas.OpError.API gives each its HTTP status.
// CodeForbidden (a viewer sent a change) and CodeInvalidText are among
// them too.
const (
	CodeInvalidOp      = "invalid_op"       // malformed op: missing or wrong fields
	CodeUnknownOp      = "unknown_op"       // op name not known
	CodeInvalidID      = "invalid_id"       // id empty, too long or with bad characters
	CodeUnknownID      = "unknown_id"       // id names no node or edge
	CodeDuplicateID    = "duplicate_id"     // id already taken
	CodeMissingNode    = "missing_node"     // edge to a node that does not exist
	CodeKindNotAllowed = "kind_not_allowed" // node or edge kind not allowed
	CodeInvalidNumber  = "invalid_number"   // non-finite or out-of-range number
	CodeDataTooLarge   = "data_too_large"   // node data or settings over the cap
	CodeBatchTooLarge  = "batch_too_large"  // too many ops, or too many bytes
	CodeCanvasFull     = "canvas_full"      // canvas at its node cap
	CodeEmptyBatch     = "empty_batch"      // a batch with no ops
)

// Codes of a rejected AI op (ai.run, ai.cancel).
const (
	CodeAIRunning     = "ai_running"      // the card is already running
	CodeAINotRunning  = "ai_not_running"  // cancel of a card that is not running
	CodeAILimit       = "ai_limit"        // over the per-user concurrent runs
	CodeAIRateLimited = "ai_rate_limited" // over the per-user runs per minute
)
