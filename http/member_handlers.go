package skerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/store"
)

// listMembers: GET /api/v1/canvases/:id/members → every member; any
// member may look.
func (s *Server) listMembers(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.CanvasAccess(c, id); err != nil {
		return err
	}
	ms, err := s.st.Members(c.UserContext(), id)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	out := make([]memberView, 0, len(ms))
	for _, m := range ms {
		out = append(out, viewMember(m))
	}
	return c.JSON(fiber.Map{"members": out})
}

type addMemberRequest struct {
	Email string     `json:"email"`
	Role  store.Role `json:"role"`
}

// addMember: POST /api/v1/canvases/:id/members {email, role} → 201;
// owners only.
func (s *Server) addMember(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.requireOwner(c, id, "only an owner can add members"); err != nil {
		return err
	}
	var req addMemberRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	email, err := auth.ValidateEmail(req.Email)
	if err != nil {
		return err
	}
	if !req.Role.Valid() {
		return apierr.Invalid("role", "must be owner, editor or viewer")
	}
	u, err := s.st.UserByEmail(c.UserContext(), email)
	if errors.Is(err, store.ErrNotFound) {
		return &apierr.Error{Status: http.StatusNotFound, Code: apierr.CodeUserNotFound,
			Message: "no account has this email", Field: "email"}
	}
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.st.AddMember(c.UserContext(), id, u.ID, req.Role, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return apierr.Conflict(apierr.CodeAlreadyMember, "this user is already a member")
		}
		return notFound(err, "canvas", "add member")
	}
	s.memberEvent(c, id, u.ID, memberAdded, req.Role)
	return c.Status(http.StatusCreated).JSON(memberView{
		UserID: u.ID, Email: u.Email, Name: u.Name, Role: req.Role, CreatedAt: now})
}

type updateMemberRequest struct {
	Role store.Role `json:"role"`
}

// updateMember: PATCH /api/v1/canvases/:id/members/:userId {role} → 200;
// owners only; demoting the last owner is 409 last_owner.
func (s *Server) updateMember(c *fiber.Ctx) error {
	id, userID := c.Params("id"), c.Params("userId")
	if err := s.requireOwner(c, id, "only an owner can change roles"); err != nil {
		return err
	}
	var req updateMemberRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if !req.Role.Valid() {
		return apierr.Invalid("role", "must be owner, editor or viewer")
	}
	if !validID(userID) {
		return apierr.NotFound("member")
	}
	if err := s.st.SetMemberRole(c.UserContext(), id, userID, req.Role); err != nil {
		return memberError(err, "set member role")
	}
	s.memberChanged(id, userID)
	s.memberEvent(c, id, userID, memberRoleChanged, req.Role)
	ms, err := s.st.Members(c.UserContext(), id)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	for _, m := range ms {
		if m.UserID == userID {
			return c.JSON(viewMember(m))
		}
	}
	return apierr.NotFound("member") // removed meanwhile
}

// removeMember: DELETE /api/v1/canvases/:id/members/:userId → 204; an
// owner removing anyone, or a member leaving; removing the last owner is
// 409 last_owner.
func (s *Server) removeMember(c *fiber.Ctx) error {
	id, userID := c.Params("id"), c.Params("userId")
	role, err := s.CanvasAccess(c, id)
	if err != nil {
		return err
	}
	p, err := principal(c)
	if err != nil {
		return err
	}
	if !role.CanManage() && p.UserID != userID {
		return apierr.Forbidden("only an owner can remove other members")
	}
	if !validID(userID) {
		return apierr.NotFound("member")
	}
	if err := s.st.RemoveMember(c.UserContext(), id, userID); err != nil {
		return memberError(err, "remove member")
	}
	s.memberChanged(id, userID)
	s.memberEvent(c, id, userID, memberRemoved, "")
	return c.SendStatus(http.StatusNoContent)
}

// requireOwner admits owners of canvasID; other members get 403 with
// message, strangers 404.
func (s *Server) requireOwner(c *fiber.Ctx, canvasID, message string) error {
	role, err := s.CanvasAccess(c, canvasID)
	if err != nil {
		return err
	}
	if !role.CanManage() {
		return apierr.Forbidden(message)
	}
	return nil
}

func memberError(err error, op string) error {
	if errors.Is(err, store.ErrLastOwner) {
		return apierr.Conflict(apierr.CodeLastOwner, "a canvas must keep at least one owner")
	}
	return notFound(err, "member", op)
}

// MemberNotifier hears of membership changes (*gateway.Gateway): userID's
// role on canvasID changed or ended; an empty userID means every member's
// (the canvas was deleted).
type MemberNotifier interface {
	MemberChanged(canvasID, userID string)
}

func (s *Server) memberChanged(canvasID, userID string) {
	if s.deps.Members != nil {
		s.deps.Members.MemberChanged(canvasID, userID)
	}
}

// MemberEvents records membership changes durably (*bridge.MemberLog), for
// the RabbitMQ bridge's events out (canvas.<id>.members). MemberEvent
// records that userID's membership of canvasID changed: change is
// "added", "role_changed", "removed" or "canvas_deleted" (userID ""),
// role the role after it ("" once ended), by the user who made it. It
// logs what it cannot record: the change itself is done.
type MemberEvents interface {
	MemberEvent(ctx context.Context, canvasID, userID, change string, role store.Role, by string)
}

// The changes of MemberEvents.MemberEvent.
const (
	memberAdded         = "added"
	memberRoleChanged   = "role_changed"
	memberRemoved       = "removed"
	memberCanvasDeleted = "canvas_deleted"
)

// memberEvent records a change the store has committed; a crash before it
// is recorded loses that one event (see bridge.MemberLog).
func (s *Server) memberEvent(c *fiber.Ctx, canvasID, userID, change string, role store.Role) {
	if s.deps.MemberEvents == nil {
		return
	}
	p, _ := principal(c)
	s.deps.MemberEvents.MemberEvent(c.UserContext(), canvasID, userID, change, role, p.UserID)
}
