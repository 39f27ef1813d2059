package skerhttp

import (
	"github.com/valyala/fasthttp"
)

// guardWire sets up what the server checks of a request as it comes off
// the connection, before any route runs: how long its header and body may
// take (Config.HeaderTimeout, Config.BodyTimeout).
func (s *Server) guardWire() {
	srv := s.app.Server()
	// The header's deadline is the server's ReadTimeout; once the header
	// is in, the body gets a deadline of its own.
	bodyTimeout := s.cfg.BodyTimeout
	srv.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
	}
}
