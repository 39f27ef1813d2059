package bridge

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const fuzzCanvas = "c1"

// FuzzDecodeMemberEvent: no input crashes the member event decoder, and
// what it accepts is an event of the subject's canvas, of a known change,
// that encodes back to JSON the decoder accepts again as the same event.
func FuzzDecodeMemberEvent(f *testing.F) {
	id := strings.Repeat("ab", 16)
	for _, s := range []string{
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"added","role":"viewer","by":"u2","at":1}`,
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"role_changed","role":"owner","by":"u2","at":1}`,
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"removed","role":null,"by":"u1","at":1}`,
		`{"id":"` + id + `","canvas":"c1","change":"canvas_deleted","role":null,"by":"u2","at":1}`,
		`{"id":"` + id + `","canvas":"c2","user":"u1","change":"removed","role":null,"by":"u1","at":1}`,
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"added","role":null,"by":"u2","at":1}`,
		`{"id":"` + id + `","canvas":"c1","change":"removed","role":null,"by":"u2","at":1}`,
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"added","role":"viewer","by":"u2","at":1,"email":"a@b"}`,
		`{"id":"` + id + `","canvas":"c1","user":"u1","change":"added","role":"viewer","by":"u2","at":1} {}`,
		`{"id":"x"}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeMemberEvent(fuzzCanvas, data)
		if err != nil {
			return
		}
		if ev.Canvas != fuzzCanvas {
			t.Fatalf("accepted canvas %q on the subject of %q", ev.Canvas, fuzzCanvas)
		}
		switch ev.Change {
		case MemberAdded, MemberRoleChanged, MemberRemoved, MemberCanvasDeleted:
		default:
			t.Fatalf("accepted change %q", ev.Change)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		ev2, err := decodeMemberEvent(fuzzCanvas, again)
		if err != nil {
			t.Fatalf("%s accepted; encoded again as %s, refused: %v", data, again, err)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("%s: decoded %+v; encoded and decoded again %+v", data, ev, ev2)
		}
	})
}

// FuzzAIEvents: no journaled batch crashes the AI result reader, and each
// event it finds is of the batch's canvas, with a status.
func FuzzAIEvents(f *testing.F) {
	for _, s := range []string{
		`{"seq":3,"author":"ai","at":5,"ops":[{"op":"node.update","id":"q","set":{"data.ai_finished_at":5,"data.ai_usage":{"input":1,"output":2},"data.answer":"a","data.ai_status":"done","data.ai_run":"r"}}]}`,
		`{"seq":4,"author":"u","at":5,"ops":[{"op":"node.update","id":"q","set":{"data.ai_finished_at":5,"data.ai_status":"cancelled"}}]}`,
		`{"seq":5,"author":"u","at":5,"ops":[{"op":"node.update","id":"q","set":{"data.ai_finished_at":5,"data.ai_status":"error","data.ai_error":"no"},"unset":["data.ai_run"]}]}`,
		`{"seq":6,"ops":[{"op":"node.add","id":"n","data":{"data.ai_finished_at":1}}]}`,
		`{"seq":7,"ops":[{"op":"node.update","id":"q","set":{"data.ai_finished_at":1,"data.ai_usage":"x","data.ai_run":7}}]}`,
		`"data.ai_finished_at"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ev := range aiEvents(fuzzCanvas, data) {
			if ev.Canvas != fuzzCanvas || ev.Status == "" {
				t.Fatalf("%s: got event %+v", data, ev)
			}
		}
	})
}
