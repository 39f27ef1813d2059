package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/testkit"
)

// TestBridgeMembersAndAIOnTheBinary: every membership change made through
// the REST API reaches canvas.<id>.members, in order, each once by
// message id, across a SIGKILL of the binary right after a change; an AI
// run's result reaches canvas.<id>.ai with its run, answer and usage.
func TestBridgeMembersAndAIOnTheBinary(t *testing.T) {
	ch, _, queue, dead, exchange, _ := bridgeTopology(t)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	noErr(t, err)
	for _, key := range []string{"canvas.*.members", "canvas.*.ai"} {
		noErr(t, ch.QueueBind(q.Name, key, exchange, false, nil))
	}
	events, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	noErr(t, err)
	srv := aitest.NewOpenAI(t)
	srv.SetDefault(aitest.Reply{Deltas: []string{"an ", "answer"}, InputTokens: 3, OutputTokens: 2})
	s := StartSker(t, Options{Env: map[string]string{
		"RABBITMQ_URL": testkit.RabbitMQURL(t), "BRIDGE_COMMANDS_QUEUE": queue,
		"BRIDGE_DEAD_LETTER_QUEUE": dead, "BRIDGE_EVENTS_EXCHANGE": exchange,
		"OPENAI_BASE_URL": srv.URL,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ann, bob := s.NewClient(), s.NewClient()
	_, err = ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	_, err = bob.Register(ctx, "bob@example.com", "correct horse battery", "Bob")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Members")
	noErr(t, err)
	waitBridgeReady(t, ctx, ann)

	_, err = ann.AddMember(ctx, cv.ID, "bob@example.com", "editor")
	noErr(t, err)
	noErr(t, ann.Do(ctx, http.MethodPatch, "/api/v1/canvases/"+cv.ID+"/members/"+bob.User.ID, map[string]string{"role": "viewer"}, nil))
	s.Kill() // the change is recorded before the answer: nothing lost
	s.Start()
	noErr(t, bob.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+cv.ID+"/members/"+bob.User.ID, nil, nil))
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "node.add", ID: "q", Kind: "ai", Data: map[string]any{"prompt": "question"}})
	noErr(t, err)
	_, err = ann.PostOps(ctx, cv.ID, "", Op{Op: "ai.run", ID: "q"})
	noErr(t, err)

	type memberEvent struct {
		ID, Canvas, User, Change, By string
		Role                         *string
	}
	var members []memberEvent
	var aiEvent map[string]any
	seen := map[string]bool{}
	deleted := false
	for len(members) < 4 || aiEvent == nil {
		select {
		case d := <-events:
			if seen[d.MessageId] {
				continue
			}
			seen[d.MessageId] = true
			switch d.RoutingKey {
			case "canvas." + cv.ID + ".members":
				var ev memberEvent
				noErr(t, json.Unmarshal(d.Body, &ev))
				if d.MessageId != cv.ID+":members:"+ev.ID {
					t.Errorf("member event %s: got message id %q", d.Body, d.MessageId)
				}
				members = append(members, ev)
			case "canvas." + cv.ID + ".ai":
				noErr(t, json.Unmarshal(d.Body, &aiEvent))
				if !deleted {
					deleted = true
					noErr(t, ann.Do(ctx, http.MethodDelete, "/api/v1/canvases/"+cv.ID, nil, nil))
				}
			default:
				t.Errorf("got an event with routing key %q", d.RoutingKey)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("got %d of 4 member events and AI event %v in 60s", len(members), aiEvent)
		}
	}
	role := func(r string) *string { return &r }
	want := []memberEvent{
		{Canvas: cv.ID, User: bob.User.ID, Change: "added", Role: role("editor"), By: ann.User.ID},
		{Canvas: cv.ID, User: bob.User.ID, Change: "role_changed", Role: role("viewer"), By: ann.User.ID},
		{Canvas: cv.ID, User: bob.User.ID, Change: "removed", By: bob.User.ID},
		{Canvas: cv.ID, Change: "canvas_deleted", By: ann.User.ID},
	}
	for i, w := range want {
		got := members[i]
		got.ID = ""
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		if string(gb) != string(wb) {
			t.Errorf("member event %d: got %s; want %s", i, gb, wb)
		}
	}
	usage, _ := aiEvent["usage"].(map[string]any)
	if aiEvent["card"] != "q" || aiEvent["status"] != "done" || aiEvent["answer"] != "an answer" || aiEvent["run"] == "" ||
		aiEvent["provider"] != "openai" || usage["input"] != 3.0 || usage["output"] != 2.0 {
		t.Errorf("AI event: got %v; want card q done with \"an answer\", its run, provider openai, usage 3 and 2", aiEvent)
	}
	s.Stop()
}
