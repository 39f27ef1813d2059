// Package store is SKER's system of record: users, tokens, canvases, members
// and the materialized content of each canvas (nodes, edges, checkpoints).
//
// One interface, Store, has two implementations with the same behaviour:
// PostgreSQL through pgx (OpenPostgres) and embedded SQLite through
// modernc.org/sqlite (OpenSQLite). A single contract suite (store_test.go)
// runs against both.
//
// Canvas content (nodes, edges) is written only by the canvas actor through
// SaveCheckpoint; HTTP handlers never write it directly.
package store

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the contract both implementations keep. Every method returns
// ErrNotFound, ErrConflict or ErrLastOwner (matched with errors.Is) for the
// expected failures and a wrapped driver error otherwise. A write that
// refers to a missing row (a token of an unknown user, a member of an
// unknown canvas) is ErrNotFound.
//
// Times come back in UTC, truncated to the microsecond (PostgreSQL's
// precision; SQLite stores the same). Lists are empty, not nil, when there
// is nothing to list. JSON columns (settings, data) keep the exact bytes
// written, "{}" for empty.
type Store interface {
	// CreateUser inserts u. A second user with the same email (compared
	// case-insensitively) fails with ErrConflict.
	CreateUser(ctx context.Context, u User) error
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail finds a user by email, case-insensitively.
	UserByEmail(ctx context.Context, email string) (User, error)

	// CreateRefreshToken stores a new refresh token (only its hash).
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshTokenByHash returns the token with that hash, used or not.
	RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefreshToken atomically revokes the live token oldHash (marking
	// it replaced by next) and stores next. It fails with ErrNotFound when
	// oldHash is unknown, already revoked or expired at now: a token can be
	// rotated once only, even by two concurrent callers.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) error
	// RevokeRefreshToken revokes one token; revoking a revoked or unknown
	// token is not an error.
	RevokeRefreshToken(ctx context.Context, hash string, now time.Time) error
	// SessionEnded reports whether the sign-in sessionID was signed out:
	// one of its tokens was revoked without being rotated (a logout, or
	// every token of its user revoked).
	SessionEnded(ctx context.Context, sessionID string) (bool, error)
	// RevokeUserRefreshTokens revokes every live refresh token of a user
	// and sets the user's SessionsRevokedAt to now, in one transaction.
	RevokeUserRefreshTokens(ctx context.Context, userID string, now time.Time) error

	// CreateAPIToken stores a new API token (only its hash).
	CreateAPIToken(ctx context.Context, t APIToken) error
	// APITokenByHash returns a token that is not expired at now.
	APITokenByHash(ctx context.Context, hash string, now time.Time) (APIToken, error)
	// ListAPITokens lists a user's tokens, expired ones included, newest
	// first.
	ListAPITokens(ctx context.Context, userID string) ([]APIToken, error)
	// DeleteAPIToken deletes a token of userID; ErrNotFound if there is none.
	DeleteAPIToken(ctx context.Context, userID, id string) error
	// TouchAPIToken records that a token was used at now; ErrNotFound if
	// the token is gone.
	TouchAPIToken(ctx context.Context, id string, now time.Time) error

	// CreateCanvas inserts c and makes ownerID its owner, atomically.
	CreateCanvas(ctx context.Context, c Canvas, ownerID string) error
	Canvas(ctx context.Context, id string) (Canvas, error)
	// ListCanvases returns the canvases userID is a member of with the
	// user's role, most recently updated first.
	ListCanvases(ctx context.Context, userID string) ([]CanvasEntry, error)
	// UpdateCanvasMeta sets the title and settings of a canvas.
	UpdateCanvasMeta(ctx context.Context, id, title string, settings json.RawMessage, now time.Time) error
	// DeleteCanvas removes a canvas with its members, nodes, edges and
	// checkpoint.
	DeleteCanvas(ctx context.Context, id string) error

	// Role returns userID's role on canvasID, ErrNotFound when none.
	Role(ctx context.Context, canvasID, userID string) (Role, error)
	// Members lists the members of a canvas, owners first, then by email
	// case-insensitively; an unknown canvas has none.
	Members(ctx context.Context, canvasID string) ([]Member, error)
	// AddMember adds userID with role; ErrConflict if already a member.
	AddMember(ctx context.Context, canvasID, userID string, role Role, now time.Time) error
	// SetMemberRole changes a member's role; ErrNotFound if not a member,
	// ErrLastOwner if it would leave the canvas without an owner.
	SetMemberRole(ctx context.Context, canvasID, userID string, role Role) error
	// RemoveMember removes a member; ErrNotFound if not a member,
	// ErrLastOwner if it is the last owner.
	RemoveMember(ctx context.Context, canvasID, userID string) error

	// LoadCheckpoint returns the materialized content of a canvas and the
	// seq it reflects, read in one snapshot (0 with empty Nodes and Edges
	// when never checkpointed); ErrNotFound when there is no such canvas.
	LoadCheckpoint(ctx context.Context, canvasID string) (Checkpoint, error)
	// SaveCheckpoint applies d atomically when the stored checkpoint seq is
	// d.FromSeq, and fails with ErrConflict otherwise (a stale writer),
	// changing nothing. It also sets the canvas's UpdatedAt to d.At, so
	// that ListCanvases shows recently edited canvases first. ErrNotFound
	// when there is no such canvas.
	SaveCheckpoint(ctx context.Context, d CheckpointDelta) error

	// RecordAIRun stores a finished AI run; the same id twice is
	// ErrConflict.
	RecordAIRun(ctx context.Context, r AIRun) error
	// AIUsage sums a user's AI runs since a time by UTC day and model,
	// newest day first.
	AIUsage(ctx context.Context, userID string, since time.Time) ([]AIUsage, error)

	// AddFile records that a canvas holds a file (store/files.go); the
	// same content on the same canvas again returns the File recorded
	// first. ErrNotFound when there is no such canvas.
	AddFile(ctx context.Context, f File) (File, error)
	// CanvasFile returns a file of a canvas, ErrNotFound when it holds
	// none with that id.
	CanvasFile(ctx context.Context, canvasID, id string) (File, error)
	// CanvasFiles lists a canvas's files, newest first.
	CanvasFiles(ctx context.Context, canvasID string) ([]File, error)
	// FileUsage sums the sizes of a canvas's files and of the files a
	// user uploaded, on every canvas (store/files.go).
	FileUsage(ctx context.Context, canvasID, userID string) (canvasBytes, userBytes int64, err error)
	// FileCanvases lists the canvases holding files, SweepCanvasFiles
	// marks a canvas's files referenced or not and deletes those
	// unreferenced since cutoff, and FileHeld reports whether any canvas
	// holds a content: the file sweep's queries (store/files_sweep.go).
	FileCanvases(ctx context.Context) ([]string, error)
	SweepCanvasFiles(ctx context.Context, canvasID string, referenced []string, now, cutoff time.Time) ([]File, error)
	FileHeld(ctx context.Context, id string) (bool, error)
	// VersionStates calls fn with the state of each kept version of a
	// canvas, for the file sweep (store/files_sweep.go).
	VersionStates(ctx context.Context, canvasID string, fn func(state []byte) error) error

	// SaveVersion, ListVersions, VersionAtOrBefore, DeleteVersions and
	// VersionCanvases keep the points of a canvas's history
	// (store/versions.go).
	SaveVersion(ctx context.Context, v Version) error
	ListVersions(ctx context.Context, canvasID string) ([]Version, error)
	VersionAtOrBefore(ctx context.Context, canvasID string, seq uint64) (Version, error)
	DeleteVersions(ctx context.Context, canvasID string, seqs []uint64, kind string) (int64, error)
	VersionCanvases(ctx context.Context, cutoff time.Time) ([]string, error)

	// MarkCommentsRead records that a member has read a canvas's comments
	// up to seq (a lower seq than recorded changes nothing), CommentsRead
	// returns that seq (0: none read), and UnreadMentions counts, by
	// canvas, the checkpointed comments by others that mention userID
	// after what they have read, on the canvases they are a member of
	// (store/comments.go).
	MarkCommentsRead(ctx context.Context, canvasID, userID string, seq uint64) error
	CommentsRead(ctx context.Context, canvasID, userID string) (uint64, error)
	UnreadMentions(ctx context.Context, userID string) (map[string]int, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// Role is a member's role on a canvas.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleEditor Role = "editor"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleEditor || r == RoleViewer }

// CanEdit reports whether r may change a canvas's content and title.
func (r Role) CanEdit() bool { return r == RoleOwner || r == RoleEditor }

// CanManage reports whether r may delete a canvas and manage its members.
func (r Role) CanManage() bool { return r == RoleOwner }

// User is an account.
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
	// SessionsRevokedAt is when the user was last signed out everywhere
	// (RevokeUserRefreshTokens); nil if never. Access tokens issued up to
	// then are refused.
	SessionsRevokedAt *time.Time
}

// RefreshToken is a server-side refresh token; only its SHA-256 hash is kept.
type RefreshToken struct {
	ID         string
	UserID     string
	TokenHash  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	ReplacedBy string // ID of the token this one was rotated into
	// SessionID is the ID of the first token of its sign-in, carried over
	// on every rotation (and in its access tokens); "" in tokens older
	// than sessions: Session gives their own ID then.
	SessionID string
}

// Session is the id of the sign-in t belongs to.
func (t RefreshToken) Session() string {
	if t.SessionID == "" {
		return t.ID
	}
	return t.SessionID
}

// APIToken is a long-lived token for integrations; only its hash is kept.
type APIToken struct {
	ID         string
	UserID     string
	Name       string
	TokenHash  string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

// Canvas is a canvas's metadata.
type Canvas struct {
	ID        string
	Title     string
	Settings  json.RawMessage // a JSON object; "{}" when empty
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CanvasEntry is a canvas as listed for one user, with that user's role.
type CanvasEntry struct {
	Canvas
	Role Role
}

// Member is a user's membership of a canvas.
type Member struct {
	CanvasID  string
	UserID    string
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
}

// Node is a card on a canvas.
type Node struct {
	ID        string
	Kind      string
	X, Y      float64
	W, H      float64
	Z         int64
	Data      json.RawMessage // a JSON object; "{}" when empty
	AuthorID  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Edge connects two nodes of a canvas.
type Edge struct {
	ID        string
	Source    string
	Target    string
	Kind      string
	Data      json.RawMessage // a JSON object; "{}" when empty
	AuthorID  string
	CreatedAt time.Time
}

// Comment is a comment of a canvas as checkpointed: Body is the comment
// as the canvas holds it (canvas.Comment JSON); the other fields are read
// out of it for queries.
type Comment struct {
	ID       string
	Thread   string
	AuthorID string
	Seq      uint64
	Mentions []string
	Body     json.RawMessage
}

// Checkpoint is the materialized content of a canvas at Seq.
type Checkpoint struct {
	CanvasID string
	Seq      uint64
	Nodes    []Node    // ordered by ID
	Edges    []Edge    // ordered by ID
	Comments []Comment // ordered by ID
}

// CheckpointDelta moves a canvas's materialized content from FromSeq to Seq
// (Seq >= FromSeq). When an ID is put twice the last put counts; an ID
// both put and deleted ends up deleted (puts are applied first).
type CheckpointDelta struct {
	CanvasID    string
	FromSeq     uint64
	Seq         uint64
	Meta        *CanvasMeta // nil: metadata unchanged
	PutNodes    []Node      // inserted or replaced whole
	DeleteNodes []string
	PutEdges    []Edge // inserted or replaced whole
	DeleteEdges []string
	// PutComments and DeleteComments are PutNodes and DeleteNodes for
	// comments.
	PutComments    []Comment
	DeleteComments []string
	At             time.Time
}

// CanvasMeta is the part of a canvas's metadata that ops can change.
type CanvasMeta struct {
	Title    string
	Settings json.RawMessage
}
