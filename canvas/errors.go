package canvas

import (
	"fmt"
	"net/http"

	"github.com/skerhq/sker/apierr"
)

// Validation codes of a rejected batch. They are part of the public protocol
// (docs/protocol.md): never rename one, only add.
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
	CodeForbidden      = "forbidden"        // a viewer sent a change
	// CodeInvalidText: a string in the batch is not valid UTF-8 or holds
	// U+0000 or a lone surrogate (apierr.CodeInvalidText).
	CodeInvalidText = apierr.CodeInvalidText
)

// OpError is the reason a batch was rejected. Index is the position of the
// offending op in the batch, or -1 when the batch as a whole is at fault.
type OpError struct {
	Code    string
	Message string
	Index   int
}

func (e *OpError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("op %d: %s: %s", e.Index, e.Code, e.Message)
	}
	return e.Code + ": " + e.Message
}

// API returns the error as the client sees it over REST.
func (e *OpError) API() *apierr.Error {
	status := http.StatusBadRequest
	switch e.Code {
	case CodeForbidden:
		status = http.StatusForbidden
	case CodeBatchTooLarge, CodeDataTooLarge:
		status = http.StatusRequestEntityTooLarge
	case CodeCanvasFull:
		status = http.StatusConflict
	}
	msg := e.Message
	if e.Index >= 0 {
		msg = fmt.Sprintf("op %d: %s", e.Index, e.Message)
	}
	return &apierr.Error{Status: status, Code: e.Code, Message: msg}
}

func opErr(index int, code, format string, args ...any) *OpError {
	return &OpError{Code: code, Message: fmt.Sprintf(format, args...), Index: index}
}
