// Package presence says who is on which canvas, for the canvas list: the
// connections joined to each canvas, on this node (Local) or on every node
// sharing a Redis (Redis). It is a directory, not the live presence of
// cursors and selections, which travels on NATS between the gateways.
package presence

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Entry is one connection joined to a canvas.
type Entry struct {
	Node    string // the node whose gateway holds the connection
	Session string // the connection's id
	User    string
}

// Directory records the connections joined to canvases and answers who is
// on them. Joined and Left do not block: the gateway calls them with its
// locks held.
type Directory interface {
	// Joined records that session, of user, joined canvasID.
	Joined(canvasID, session, user string)
	// Left records that session left canvasID (or ended).
	Left(canvasID, session string)
	// Here returns the entries of each of canvasIDs that has any. An
	// error says the answer may be partial (for example only this
	// node's connections, while Redis does not answer); the entries
	// returned with it are still true.
	Here(ctx context.Context, canvasIDs []string) (map[string][]Entry, error)
}

// Local is the Directory of one node: the connections of its own gateway.
// The zero value is not usable; use NewLocal.
type Local struct {
	node string
	mu   sync.Mutex
	m    map[string]map[string]string // canvas -> session -> user
}

var _ Directory = (*Local)(nil)

// NewLocal returns an empty directory of node's connections.
func NewLocal(node string) *Local {
	return &Local{node: node, m: map[string]map[string]string{}}
}

// Joined implements Directory.
func (l *Local) Joined(canvasID, session, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[canvasID]
	if s == nil {
		s = map[string]string{}
		l.m[canvasID] = s
	}
	s[session] = user
}

// Left implements Directory.
func (l *Local) Left(canvasID, session string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m[canvasID], session)
	if len(l.m[canvasID]) == 0 {
		delete(l.m, canvasID)
	}
}

// Here implements Directory; it never fails.
func (l *Local) Here(_ context.Context, canvasIDs []string) (map[string][]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]Entry{}
	for _, id := range canvasIDs {
		for session, user := range l.m[id] {
			out[id] = append(out[id], Entry{Node: l.node, Session: session, User: user})
		}
	}
	for _, es := range out {
		sortEntries(es)
	}
	return out, nil
}

// all returns every entry, by canvas.
func (l *Local) all() map[string][]Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]Entry, len(l.m))
	for id, s := range l.m {
		for session, user := range s {
			out[id] = append(out[id], Entry{Node: l.node, Session: session, User: user})
		}
	}
	return out
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.Session, b.Session)
	})
}
