package bridge

import (
	"encoding/json"
	"testing"
)

// FuzzParseReply: no input crashes the reply decoder, and what it accepts
// is a reply of a known type (a delta with its seq) that encodes back to
// JSON the decoder accepts again as the same reply.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"type":"delta","run":"r","seq":1,"text":"hi"}`,
		`{"type":"done","usage":{"input_tokens":1,"output_tokens":2}}`,
		`{"type":"error","message":"m"}`,
		`{"type":"cancelled"}`,
		`{"type":"delta","seq":0}`,
		`{"type":"x"}`,
		`{"type":"done"} {}`,
		`[]`, `null`, ``, `{"type":"delta","seq":-1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := parseReply(body)
		if err != nil {
			return
		}
		switch rep.Type {
		case replyDelta:
			if rep.Seq == 0 {
				t.Fatalf("accepted a delta without seq: %q", body)
			}
		case replyDone, replyError, replyCancelled:
		default:
			t.Fatalf("accepted type %q: %q", rep.Type, body)
		}
		again, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		rep2, err := parseReply(again)
		if err != nil {
			t.Fatalf("its own encoding %s is refused: %v", again, err)
		}
		if rep2.Type != rep.Type || rep2.Seq != rep.Seq || rep2.Text != rep.Text || rep2.Run != rep.Run || rep2.Message != rep.Message {
			t.Fatalf("round trip: %+v became %+v", rep, rep2)
		}
	})
}
