package skerhttp

import (
	"encoding/json"
	"time"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/store"
)

// The JSON forms of store values. Hashes never leave the server.

type userView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt}
}

type canvasView struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Settings  json.RawMessage `json:"settings"`
	CreatedBy string          `json:"created_by"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Role      store.Role      `json:"role"`
}

func viewCanvas(c store.Canvas, role store.Role) canvasView {
	settings := c.Settings
	if len(settings) == 0 {
		settings = json.RawMessage("{}")
	}
	return canvasView{ID: c.ID, Title: c.Title, Settings: settings, CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Role: role}
}

// listedCanvasView is a canvas in GET /api/v1/canvases: with who is on it
// now, on every node (empty when nobody is).
type listedCanvasView struct {
	canvasView
	Present []presentView `json:"present"`
	// UnreadMentions counts the comments by others that mention the
	// caller after what they have read, as of the canvas's checkpoint.
	UnreadMentions int `json:"unread_mentions"`
}

// presentView is one person on a canvas.
type presentView struct {
	UserID      string `json:"user_id"`
	Name        string `json:"name"`
	Connections int    `json:"connections"`
}

// stateView is canvas metadata with the seq it is current at.
type stateView struct {
	canvasView
	Seq uint64 `json:"seq"`
}

// snapshotView is a canvas with its committed content.
type snapshotView struct {
	canvasView
	Seq      uint64            `json:"seq"`
	Nodes    []*canvas.Node    `json:"nodes"`
	Edges    []*canvas.Edge    `json:"edges"`
	Comments []*canvas.Comment `json:"comments"`
}

type memberView struct {
	UserID    string     `json:"user_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      store.Role `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
}

func viewMember(m store.Member) memberView {
	return memberView{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, CreatedAt: m.CreatedAt}
}

type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	// Token is the secret itself, present only in the creation response.
	Token string `json:"token,omitempty"`
}

func viewToken(t store.APIToken) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}
