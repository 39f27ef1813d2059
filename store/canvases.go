package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

const canvasCols = "c.id, c.title, c.settings, c.created_by, c.created_at, c.updated_at"

func canvasDest(c *Canvas) []any {
	return []any{&c.ID, &c.Title, (*[]byte)(&c.Settings), &c.CreatedBy, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}}
}

// CreateCanvas implements Store.
func (s *sqlStore) CreateCanvas(ctx context.Context, c Canvas, ownerID string) error {
	err := s.inTx(ctx, func(q querier) error {
		_, err := q.exec(ctx,
			"INSERT INTO canvases (id, title, settings, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			c.ID, c.Title, jsonText(c.Settings), c.CreatedBy, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, insertMember, c.ID, ownerID, string(RoleOwner), c.CreatedAt)
		return err
	})
	return s.fail(err, "create canvas %s", c.ID)
}

// Canvas implements Store.
func (s *sqlStore) Canvas(ctx context.Context, id string) (Canvas, error) {
	var c Canvas
	err := queryOne(ctx, s.read, "SELECT "+canvasCols+" FROM canvases c WHERE c.id = ?", []any{id}, canvasDest(&c)...)
	return c, s.fail(err, "canvas %s", id)
}

// ListCanvases implements Store; ties in updated_at are ordered by id, and
// no canvas is an empty slice. It reads from the replica when there is one.
func (s *sqlStore) ListCanvases(ctx context.Context, userID string) ([]CanvasEntry, error) {
	list := []CanvasEntry{}
	err := queryAll(ctx, s.lagRead,
		"SELECT "+canvasCols+", m.role FROM canvas_members m JOIN canvases c ON c.id = m.canvas_id"+
			" WHERE m.user_id = ? ORDER BY c.updated_at DESC, c.id",
		[]any{userID}, func(r rows) error {
			var e CanvasEntry
			err := r.Scan(append(canvasDest(&e.Canvas), (*string)(&e.Role))...)
			list = append(list, e)
			return err
		})
	return list, s.fail(err, "list canvases of user %s", userID)
}

// UpdateCanvasMeta implements Store.
func (s *sqlStore) UpdateCanvasMeta(ctx context.Context, id, title string, settings json.RawMessage, now time.Time) error {
	err := execOne(ctx, s.write, updateMeta, title, jsonText(settings), now, id)
	return s.fail(err, "update canvas %s", id)
}

const updateMeta = "UPDATE canvases SET title = ?, settings = ?, updated_at = ? WHERE id = ?"

// DeleteCanvas implements Store; the foreign keys cascade to the members,
// nodes, edges and checkpoint.
func (s *sqlStore) DeleteCanvas(ctx context.Context, id string) error {
	err := execOne(ctx, s.write, "DELETE FROM canvases WHERE id = ?", id)
	return s.fail(err, "delete canvas %s", id)
}

// Role implements Store.
func (s *sqlStore) Role(ctx context.Context, canvasID, userID string) (Role, error) {
	var role Role
	err := queryOne(ctx, s.read, "SELECT role FROM canvas_members WHERE canvas_id = ? AND user_id = ?",
		[]any{canvasID, userID}, (*string)(&role))
	return role, s.fail(err, "role of user %s on canvas %s", userID, canvasID)
}

// Members implements Store; ties in email are ordered by user id, and an
// unknown canvas has no members (an empty slice). It reads from the replica
// when there is one.
func (s *sqlStore) Members(ctx context.Context, canvasID string) ([]Member, error) {
	list := []Member{}
	err := queryAll(ctx, s.lagRead,
		"SELECT m.canvas_id, m.user_id, u.email, u.name, m.role, m.created_at"+
			" FROM canvas_members m JOIN users u ON u.id = m.user_id WHERE m.canvas_id = ?"+
			" ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, u.email_lower, m.user_id",
		[]any{canvasID}, func(r rows) error {
			var m Member
			err := r.Scan(&m.CanvasID, &m.UserID, &m.Email, &m.Name, (*string)(&m.Role), timeCol{&m.CreatedAt})
			list = append(list, m)
			return err
		})
	return list, s.fail(err, "members of canvas %s", canvasID)
}

const insertMember = "INSERT INTO canvas_members (canvas_id, user_id, role, created_at) VALUES (?, ?, ?, ?)"

// AddMember implements Store. An unknown canvas or user is ErrNotFound.
func (s *sqlStore) AddMember(ctx context.Context, canvasID, userID string, role Role, now time.Time) error {
	if !role.Valid() {
		return fmt.Errorf("store: add member %s to canvas %s: invalid role %q", userID, canvasID, role)
	}
	_, err := s.write.exec(ctx, insertMember, canvasID, userID, string(role), now)
	return s.fail(err, "add member %s to canvas %s", userID, canvasID)
}

// SetMemberRole implements Store.
func (s *sqlStore) SetMemberRole(ctx context.Context, canvasID, userID string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("store: set role of %s on canvas %s: invalid role %q", userID, canvasID, role)
	}
	err := s.changeMember(ctx, canvasID, userID, role)
	return s.fail(err, "set role of %s on canvas %s", userID, canvasID)
}

// RemoveMember implements Store.
func (s *sqlStore) RemoveMember(ctx context.Context, canvasID, userID string) error {
	err := s.changeMember(ctx, canvasID, userID, "")
	return s.fail(err, "remove member %s from canvas %s", userID, canvasID)
}

// changeMember gives userID the role to on canvasID, or removes them when
// to is empty, unless that leaves the canvas without an owner.
//
// It first locks the canvas's owner rows (in user id order, so two callers
// cannot deadlock). A concurrent change then waits, and re-reads the owners
// after this one commits: of two owners demoting each other, the second
// finds one owner left and fails with ErrLastOwner.
func (s *sqlStore) changeMember(ctx context.Context, canvasID, userID string, to Role) error {
	return s.inTx(ctx, func(q querier) error {
		var owners []string
		err := queryAll(ctx, q,
			"SELECT user_id FROM canvas_members WHERE canvas_id = ? AND role = 'owner' ORDER BY user_id"+s.forUpdate,
			[]any{canvasID}, func(r rows) error {
				var id string
				err := r.Scan(&id)
				owners = append(owners, id)
				return err
			})
		if err != nil {
			return err
		}
		if to != RoleOwner && len(owners) == 1 && slices.Contains(owners, userID) {
			return ErrLastOwner
		}
		if to == "" {
			return execOne(ctx, q, "DELETE FROM canvas_members WHERE canvas_id = ? AND user_id = ?", canvasID, userID)
		}
		return execOne(ctx, q, "UPDATE canvas_members SET role = ? WHERE canvas_id = ? AND user_id = ?",
			string(to), canvasID, userID)
	})
}
