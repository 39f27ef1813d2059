package gateway

import (
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
)

// Revoked credentials end their connections at once, on every node: the
// account service calls Revoked, which publishes on the revoked subject for
// every gateway; each closes its sessions that authenticated with the
// revoked credential with 4001 "unauthorized" (log in again).

type revokedEvent struct {
	User  string `json:"user"`
	Token string `json:"token,omitempty"` // an API token's id; empty: every access token
}

var _ auth.RevocationListener = (*Gateway)(nil)

// Revoked implements auth.RevocationListener: it tells every gateway that
// userID's API token tokenID was deleted or, with an empty tokenID, that
// userID was signed out everywhere.
func (g *Gateway) Revoked(userID, tokenID string) {
	data, _ := json.Marshal(revokedEvent{User: userID, Token: tokenID})
	if err := g.cfg.Conn.Publish(g.cfg.Names.Revoked(), data); err != nil {
		g.log.Warn("publish revocation", "user_id", userID, "err", err)
	}
}

// subscribeRevoked starts hearing revocations from every gateway.
func (g *Gateway) subscribeRevoked() (*nats.Subscription, error) {
	return g.cfg.Conn.Subscribe(g.cfg.Names.Revoked(), func(msg *nats.Msg) {
		var ev revokedEvent
		if err := json.Unmarshal(msg.Data, &ev); err != nil || ev.User == "" {
			return
		}
		g.closeRevoked(ev)
	})
}

// closeRevoked closes the sessions that authenticated with what ev revoked.
func (g *Gateway) closeRevoked(ev revokedEvent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.sessions {
		if revokes(ev, s.user) {
			s.kill(apierr.CloseUnauthorized, apierr.CodeUnauthorized)
		}
	}
}

func revokes(ev revokedEvent, p auth.Principal) bool {
	if p.UserID != ev.User {
		return false
	}
	if ev.Token == "" {
		return p.Method == auth.MethodJWT
	}
	return p.Method == auth.MethodAPIToken && p.TokenID == ev.Token
}
