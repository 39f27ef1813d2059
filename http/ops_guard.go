package skerhttp

import (
	"crypto/subtle"

	"github.com/gofiber/fiber/v2"
)

// proxyHeaders mark a request that a proxy passed on: its TCP peer is the
// proxy, not the client.
var proxyHeaders = []string{fiber.HeaderXForwardedFor, "Forwarded", "X-Real-Ip", fiber.HeaderXForwardedHost}

// OpsOnly admits a request to an operations route (/ops/…) and answers
// any other with 404 not_found, as for a route that does not exist, so
// that the route is not even seen from outside. With token set, a
// request needs "Authorization: Bearer <token>", from wherever it comes,
// loopback included. With no token, only a request whose TCP peer is a
// loopback address and that carries no proxy header (X-Forwarded-For,
// Forwarded, X-Real-IP, X-Forwarded-Host) is admitted: a proxy on the same
// machine must not make every client look local.
func OpsOnly(token string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if token != "" {
			got, ok := bearer(c.Get(fiber.HeaderAuthorization))
			if ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				return c.Next()
			}
			return fiber.ErrNotFound
		}
		if !c.Context().RemoteIP().IsLoopback() {
			return fiber.ErrNotFound
		}
		for _, h := range proxyHeaders {
			if c.Get(h) != "" {
				return fiber.ErrNotFound
			}
		}
		return c.Next()
	}
}
