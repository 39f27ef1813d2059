package skerhttp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/google/uuid"
	"github.com/skerhq/sker/apierr"
)

// HeaderRequestID carries the request id both ways.
const HeaderRequestID = "X-Request-ID"

// contentSecurityPolicy suits the single-page studio UI served from the
// same origin: its own scripts only, inline styles (React Flow positions
// nodes with style attributes), images from data: and blob: URLs (uploads,
// exports), and API/WebSocket calls to the same origin.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// quietPaths are logged at debug level when they succeed: probes and
// scrapes would drown the access log.
var quietPaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

type localKey int

const (
	keyLogger localKey = iota
	keyPrincipal
)

// middleware installs the chain every request passes, outermost first.
func (s *Server) middleware() {
	s.app.Use(s.observe)
	s.app.Use(securityHeaders)
	s.app.Use(refuseContentCoding)
	s.app.Use(s.capBody)
	if origins := s.corsOrigins(); origins != "" {
		s.app.Use(cors.New(cors.Config{
			AllowOrigins:  origins,
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE,OPTIONS",
			AllowHeaders:  "Authorization,Content-Type," + HeaderRequestID,
			ExposeHeaders: HeaderRequestID + ",Retry-After",
			MaxAge:        600,
		}))
	}
	s.app.Use(compress.New(compress.Config{Level: compress.LevelDefault}))
}

// observe is the outermost middleware: it gives the request an id and a
// logger, recovers panics, writes errors in the JSON shape (so their status
// is known here), then records metrics and one access-log line (to
// Deps.AccessLogger; none with Config.AccessLogOff unless it is a 5xx).
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	rid := requestID(c.Get(HeaderRequestID))
	log := s.log.With("request_id", rid)
	c.Locals(keyLogger, log)
	c.Set(HeaderRequestID, rid)
	entry := c.Route() // this middleware's route; still current after Next if nothing matched

	if err := s.next(c, log); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			log.Error("write error response", "err", herr)
			c.Status(fiber.StatusInternalServerError)
		}
	}

	elapsed := time.Since(start)
	status := c.Response().StatusCode()
	route := routeLabel(c, entry)
	s.metrics.observe(route, c.Method(), status, elapsed)

	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case quietPaths[c.Path()] && status < 400:
		level = slog.LevelDebug
	}
	if s.cfg.AccessLogOff && level < slog.LevelError {
		return nil
	}
	attrs := []slog.Attr{
		slog.String("request_id", rid),
		slog.String("method", c.Method()), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", elapsed),
	}
	attrs = append(attrs, slog.String("client", s.clientIP(c)))
	if p, ok := PrincipalFrom(c); ok {
		attrs = append(attrs, slog.String("user_id", p.UserID))
	}
	s.deps.AccessLogger.LogAttrs(c.UserContext(), level, "http request", attrs...)
	return nil
}

// next runs the rest of the chain, turning a panic into a logged 500.
func (s *Server) next(c *fiber.Ctx, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic in handler", "panic", fmt.Sprint(r), "route", c.Route().Path,
				"stack", string(debug.Stack()))
			c.Response().ResetBody()
			err = apierr.Internal()
		}
	}()
	return c.Next()
}

// requestID keeps a client's id when it is short and plain (so that it is
// safe in logs and headers) and makes one otherwise.
func requestID(in string) string {
	if len(in) > 0 && len(in) <= 128 && strings.Trim(in, idChars) == "" {
		return in
	}
	return uuid.Must(uuid.NewV7()).String()
}

const idChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"

// routeLabel is the matched route pattern (never the raw path, which would
// make one time series per id), or "unmatched" when the request got no
// further than the middleware route entry.
func routeLabel(c *fiber.Ctx, entry *fiber.Route) string {
	r := c.Route()
	if r == nil || r == entry || r.Path == "" {
		return "unmatched"
	}
	return r.Path
}

func securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(c.Path(), "/api/") {
		// Responses carry tokens and private data.
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// corsOrigins normalizes Config.CORSOrigin for the cors middleware, which
// panics on a malformed origin: those are logged and dropped.
func (s *Server) corsOrigins() string {
	var ok []string
	for _, o := range strings.Split(s.cfg.CORSOrigin, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch {
		case o == "":
		case o == "*":
			return "*"
		case validOrigin(o):
			ok = append(ok, strings.ToLower(o))
		default:
			s.log.Warn("CORS_ORIGIN: ignoring malformed origin; want scheme://host[:port]", "origin", o)
		}
	}
	return strings.Join(ok, ",")
}

func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.User == nil && u.Fragment == ""
}

// Logger is the request-scoped logger (it carries request_id); outside a
// request it is slog.Default().
func Logger(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.Locals(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// clientIP is the request's client address, for login limits and the
// access log (see Config.TrustedProxies). Fiber decides whether the peer
// is a trusted proxy and parses X-Forwarded-For; c.IP() itself is not
// used because it takes the leftmost address, which the client writes
// when a proxy appends to the header (nginx's $proxy_add_x_forwarded_for).
func (s *Server) clientIP(c *fiber.Ctx) string {
	peer := c.Context().RemoteIP().String()
	if len(s.cfg.TrustedProxies) == 0 || !c.IsProxyTrusted() {
		return peer
	}
	ips := c.IPs()
	for i := len(ips) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(ips[i])
		if err != nil {
			continue
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
		peer = a.Unmap().String() // a trusted proxy: look one hop further
	}
	return peer
}

// trusted reports whether a is one of Config.TrustedProxies.
func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// proxyList is TrustedProxies in the form fiber.Config takes.
func proxyList(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// capBody answers 413 payload_too_large to a request whose body is over
// Config.APIBodyLimit. Fiber reads every body up to Config.BodyLimit; only
// the import route may use all of it. Uploads have limits of their own
// (ServeFiles).
func (s *Server) capBody(c *fiber.Ctx) error {
	if isUpload(c.Method(), c.Path()) || int64(len(c.Request().Body())) <= s.cfg.APIBodyLimit ||
		(c.Method() == fiber.MethodPost && c.Path() == "/api/v1"+importPath) {
		return c.Next()
	}
	return apierr.New(fiber.StatusRequestEntityTooLarge, apierr.CodePayloadTooLarge, "request body too large")
}
