package canvas

import (
	"fmt"
	"net/http"

	"github.com/skerhq/sker/apierr"
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
	case apierr.CodeForbidden:
		status = http.StatusForbidden
	case apierr.CodeBatchTooLarge, apierr.CodeDataTooLarge:
		status = http.StatusRequestEntityTooLarge
	case apierr.CodeCanvasFull:
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
