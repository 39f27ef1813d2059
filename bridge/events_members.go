package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skerhq/sker/natsname"
	"github.com/skerhq/sker/store"
)

// The changes of a MemberEvent.
const (
	MemberAdded       = "added"
	MemberRoleChanged = "role_changed"
	MemberRemoved     = "removed"
	// MemberCanvasDeleted ends every membership of the canvas at once; its
	// event names no user.
	MemberCanvasDeleted = "canvas_deleted"
)

// MemberEvent is the body of an event with routing key
// canvas.<id>.members: one membership change, as the REST API made it. Its
// message_id is "<canvas>:members:<id>".
type MemberEvent struct {
	// ID is the change's own id, random, kept from the REST call to the
	// exchange: a consumer drops a message whose id it has seen.
	ID     string `json:"id"`
	Canvas string `json:"canvas"`
	// User is the member whose membership changed; "" (absent) for
	// MemberCanvasDeleted.
	User   string `json:"user,omitempty"`
	Change string `json:"change"`
	// Role is the member's role after the change; null once the
	// membership ended (removed, canvas deleted).
	Role *store.Role `json:"role"`
	// By is the user who made the change (the member who left, for one
	// leaving).
	By string `json:"by"`
	// At is when the store committed it, unix ms.
	At int64 `json:"at"`
}

// MembersStreamMaxAge is how long the members stream keeps a change that
// the bridge has not published: a bridge away longer loses the oldest.
const MembersStreamMaxAge = 7 * 24 * time.Hour

// MembersConsumer is the durable consumer of the members stream of the
// events mapping whose journal consumer is events.
func MembersConsumer(events string) string { return events + "-members" }

var (
	eventIDPattern  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	memberIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// decodeMemberEvent decodes a member event stored in the members stream
// on canvasID's subject, or says what is wrong with it.
func decodeMemberEvent(canvasID string, data []byte) (MemberEvent, error) {
	var ev MemberEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("member event: %w", err)
	}
	if dec.More() {
		return ev, errors.New("member event: data after the object")
	}
	switch {
	case !eventIDPattern.MatchString(ev.ID):
		return ev, fmt.Errorf("member event: id: want 32 hex digits, got %q", ev.ID)
	case ev.Canvas != canvasID:
		return ev, fmt.Errorf("member event: canvas %q on the subject of canvas %q", ev.Canvas, canvasID)
	case ev.At <= 0:
		return ev, errors.New("member event: at: want a unix ms time")
	case ev.By != "" && !memberIDPattern.MatchString(ev.By):
		return ev, fmt.Errorf("member event: by: not a user id: %q", ev.By)
	}
	switch ev.Change {
	case MemberAdded, MemberRoleChanged:
		if ev.Role == nil || !ev.Role.Valid() {
			return ev, fmt.Errorf("member event: role: %s wants owner, editor or viewer", ev.Change)
		}
	case MemberRemoved, MemberCanvasDeleted:
		if ev.Role != nil {
			return ev, fmt.Errorf("member event: role: want null once the membership ended (%s)", ev.Change)
		}
	default:
		return ev, fmt.Errorf("member event: change: want added, role_changed, removed or canvas_deleted, got %q", ev.Change)
	}
	if (ev.Change == MemberCanvasDeleted) != (ev.User == "") {
		return ev, errors.New("member event: user: want one, except for canvas_deleted")
	}
	if ev.User != "" && !memberIDPattern.MatchString(ev.User) {
		return ev, fmt.Errorf("member event: user: not a user id: %q", ev.User)
	}
	return ev, nil
}

// MemberMessageID is the message_id of the member event ev.
func MemberMessageID(ev MemberEvent) string { return ev.Canvas + ":members:" + ev.ID }

// ensureMembersStream creates or updates the members stream with replicas,
// or, when replicas is 0, replicated like the journal.
func ensureMembersStream(ctx context.Context, js jetstream.JetStream, names natsname.Names, replicas int) error {
	if replicas <= 0 {
		replicas = 1
		s, err := js.Stream(ctx, names.JournalStream())
		switch {
		case err == nil:
			replicas = s.CachedInfo().Config.Replicas
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			// Not 1 by mistake: a cluster still electing answers late.
			return fmt.Errorf("bridge: events: members stream %s: the journal's replicas: %w", names.MembersStream(), err)
		}
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        names.MembersStream(),
		Description: "SKER: membership changes for the RabbitMQ bridge's events out",
		Subjects:    []string{names.MemberEventsSubjects()},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      MembersStreamMaxAge,
		Duplicates:  2 * time.Minute,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return fmt.Errorf("bridge: events: members stream %s: %w", names.MembersStream(), err)
	}
	return nil
}

// MemberLog records membership changes in the members stream, for the
// events mapping of whichever node holds the events lease. The REST API
// records each change once the store has committed it, so a process that
// dies between the two loses that one change's event. Where no bridge
// with events has ever run, there is no members stream and nothing is
// recorded.
type MemberLog struct {
	js    jetstream.JetStream
	names natsname.Names
	log   *slog.Logger
	now   func() time.Time
}

// NewMemberLog returns a MemberLog on js for the deployment of names
// (zero: natsname.Default()); log nil means slog.Default().
func NewMemberLog(js jetstream.JetStream, names natsname.Names, log *slog.Logger) *MemberLog {
	if names.IsZero() {
		names = natsname.Default()
	}
	if log == nil {
		log = slog.Default()
	}
	return &MemberLog{js: js, names: names, log: log.With("component", "bridge"), now: time.Now}
}

// memberLogTries and memberLogWait bound the tries to record one change:
// a stream whose leader moves answers again within seconds.
const (
	memberLogTries = 4
	memberLogWait  = 250 * time.Millisecond
	memberLogTry   = 2 * time.Second
)

// MemberEvent records that userID's membership of canvasID changed
// (change one of the Member* constants; userID "" for
// MemberCanvasDeleted), role the role after it ("" once ended), by the
// user who made it. It tries a few times, with one Nats-Msg-Id so that the
// stream keeps one copy, and logs a change it could not record; it does
// not return an error since the change itself is done.
func (l *MemberLog) MemberEvent(ctx context.Context, canvasID, userID, change string, role store.Role, by string) {
	ev := MemberEvent{ID: newEventID(), Canvas: canvasID, User: userID, Change: change, By: by, At: l.now().UnixMilli()}
	if role != "" {
		ev.Role = &role
	}
	data, err := json.Marshal(ev)
	if err == nil {
		_, err = decodeMemberEvent(canvasID, data)
	}
	if err != nil {
		l.log.Error("membership change not recorded for the events out", "canvas_id", canvasID, "user_id", userID, "change", change, "err", err)
		return
	}
	ctx = context.WithoutCancel(ctx) // a client that hangs up does not cut the record short
	msg := &nats.Msg{Subject: l.names.MemberEvents(canvasID), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	for try := 1; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, memberLogTry)
		_, err = l.js.PublishMsg(tctx, msg)
		cancel()
		if err == nil {
			return
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) && !l.streamExists(ctx) {
			return // no bridge has ever published events: nothing reads them
		}
		if try == memberLogTries {
			break
		}
		time.Sleep(memberLogWait * time.Duration(try))
	}
	l.log.Error("membership change not recorded for the events out: the bridge will not publish it",
		"canvas_id", canvasID, "user_id", userID, "change", change, "event_id", ev.ID, "err", err)
}

// streamExists reports whether the members stream exists; true when
// JetStream cannot say, so that the change is tried again.
func (l *MemberLog) streamExists(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, memberLogTry)
	defer cancel()
	_, err := l.js.Stream(sctx, l.names.MembersStream())
	return !errors.Is(err, jetstream.ErrStreamNotFound)
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
