package skerhttp

import (
	"bytes"
	"net/http"
	"slices"

	"github.com/skerhq/sker/apierr"
	"github.com/valyala/fasthttp"
)

// guardWire sets up what the server checks of a request as it comes off
// the connection, before any route runs: how long its header and body may
// take (Config.HeaderTimeout, Config.BodyTimeout) and its method. Every
// refusal leaves in the JSON error shape.
func (s *Server) guardWire() {
	srv := s.app.Server()
	// The header's deadline is the server's ReadTimeout; once the header
	// is in, the body gets a deadline of its own.
	bodyTimeout := s.cfg.BodyTimeout
	srv.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
	}
	next := srv.Handler
	methods := s.app.Config().RequestMethods
	srv.Handler = func(fctx *fasthttp.RequestCtx) {
		if e := wireError(&fctx.Request.Header, methods); e != nil {
			fctx.SetConnectionClose()
			c := s.app.AcquireCtx(fctx)
			defer s.app.ReleaseCtx(c)
			if err := s.errorHandler(c, e); err != nil {
				fctx.SetStatusCode(http.StatusInternalServerError)
			}
			return
		}
		next(fctx)
	}
}

// wireError is why a request whose header parsed must still be refused,
// or nil. Fiber would answer a method it does not know in plain text.
func wireError(h *fasthttp.RequestHeader, methods []string) *apierr.Error {
	if m := h.Method(); !slices.Contains(methods, string(m)) {
		if !isToken(m) {
			return apierr.BadRequest("malformed request method")
		}
		return apierr.New(http.StatusNotImplemented, apierr.CodeNotImplemented, "unknown request method")
	}
	return nil
}

// isToken reports whether b is an RFC 9110 token, the form of a method.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}
