package skerhttp

import (
	"bytes"
	"net/http"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/valyala/fasthttp"
)

// guardWire sets up what the server checks of a request as it comes off
// the connection, before any route runs: how long its header and body may
// take (Config.HeaderTimeout, Config.BodyTimeout), its method, and its
// body framing. Every refusal leaves in the JSON error shape.
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
	if msg := framingError(h); msg != "" {
		return apierr.BadRequest(msg)
	}
	return nil
}

// framingError explains a body framing that another server on the way
// could read differently (RFC 9112 §6.1, §6.3), which would let a second
// request hide in the first one's body: Transfer-Encoding together with
// Content-Length, a transfer coding other than one chunked, or any in an
// HTTP/1.0 request. fasthttp refuses unknown codings itself, but reads
// chunked when Content-Length is also there and ignores identity.
func framingError(h *fasthttp.RequestHeader) string {
	var te, cl int
	chunked := true
	for line := range bytes.SplitSeq(h.RawHeaders(), []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte(fasthttp.HeaderTransferEncoding)):
			te++
			chunked = chunked && bytes.EqualFold(bytes.TrimSpace(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte(fasthttp.HeaderContentLength)):
			cl++
		}
	}
	switch {
	case te == 0:
		return ""
	case cl > 0:
		return "Transfer-Encoding and Content-Length in one request"
	case te > 1 || !chunked:
		return "the only transfer coding accepted is one chunked"
	case !h.IsHTTP11():
		return "Transfer-Encoding in an HTTP/1.0 request"
	}
	return ""
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

// refuseContentCoding answers 415 to a request with a Content-Encoding
// other than identity, before anything reads the body: Fiber's Ctx.Body
// decodes gzip, deflate and brotli (each listed coding in turn) with no
// bound on the result, so a 100 KB body could become 100 MiB.
func refuseContentCoding(c *fiber.Ctx) error {
	var coded bool
	c.Request().Header.VisitAll(func(key, value []byte) {
		if !bytes.EqualFold(key, []byte(fiber.HeaderContentEncoding)) {
			return
		}
		for coding := range bytes.SplitSeq(value, []byte(",")) {
			coding = bytes.TrimSpace(coding)
			if len(coding) > 0 && !bytes.EqualFold(coding, []byte("identity")) {
				coded = true
			}
		}
	})
	if !coded {
		return c.Next()
	}
	// RFC 9110 §15.5.16: say which codings are accepted.
	c.Set(fiber.HeaderAcceptEncoding, "identity")
	return apierr.New(http.StatusUnsupportedMediaType, apierr.CodeUnsupportedMedia,
		"request bodies must not be compressed (Content-Encoding other than identity)")
}
