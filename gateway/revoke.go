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
	User    string `json:"user"`
	Token   string `json:"token,omitempty"`   // an API token's id
	Session string `json:"session,omitempty"` // a sign-in's id: its access tokens
	// Neither: every access token of the user.
}

var _ auth.RevocationListener = (*Gateway)(nil)

// Revoked implements auth.RevocationListener: it tells every gateway that
// userID's API token tokenID was deleted or, with an empty tokenID, that
// userID was signed out everywhere.
func (g *Gateway) Revoked(userID, tokenID string) {
	g.publishRevoked(revokedEvent{User: userID, Token: tokenID})
}

// SessionEnded implements auth.RevocationListener: it tells every gateway
// that userID signed out of the sign-in sessionID.
func (g *Gateway) SessionEnded(userID, sessionID string) {
	g.publishRevoked(revokedEvent{User: userID, Session: sessionID})
}

func (g *Gateway) publishRevoked(ev revokedEvent) {
	data, _ := json.Marshal(ev)
	if err := g.cfg.Conn.Publish(g.cfg.Names.Revoked(), data); err != nil {
		g.log.Warn("publish revocation", "user_id", ev.User, "err", err)
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
	switch {
	case ev.Session != "":
		return p.Method == auth.MethodJWT && p.SessionID == ev.Session
	case ev.Token != "":
		return p.Method == auth.MethodAPIToken && p.TokenID == ev.Token
	}
	return p.Method == auth.MethodJWT
}
