package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/skerhq/sker/textcheck"
)

// frameSeeds are valid and invalid frames of every type.
var frameSeeds = []string{
	`{"type":"auth","token":"abc"}`,
	`{"type":"join","canvas":"c1"}`,
	`{"type":"join","canvas":"c1","since":0}`,
	`{"type":"join","canvas":"c1","since":18446744073709551615}`,
	`{"type":"leave","canvas":"c1"}`,
	`{"type":"ops","canvas":"c1","cbid":"b1","ops":[{"op":"node.add","id":"n1","kind":"text","x":1.5,"data":{"text":"hi <b>"}}]}`,
	`{"type":"ops","canvas":"c1","ops":[{"op":"node.update","id":"n1","set":{"x":2,"data.k":[1, 2]},"unset":["data.j"]}]}`,
	`{"type":"ops","canvas":"c1","ops":[{"op":"edge.add","id":"e1","source":"a","target":"b"},{"op":"canvas.update","title":"t","settings":{"k":null}}]}`,
	`{"type":"ops","canvas":"c1","ops":[]}`,
	`{"type":"ops","canvas":"c1","cbid":"b"}`,
	`{"type":"presence","canvas":"c1","cursor":{"x":1,"y":-2.5},"selection":["n1"],"name":"Ann","color":"#fff"}`,
	`{"type":"presence","canvas":"c1","selection":[]}`,
	`{"type":"ping","id":"7"}`,
	`{"type":"ping"}`,
	`{"type":"ping"}}`,
	`{"type":"ping"}]`,
	`{"type":"ping","canvas":"c1"}`,
	`{"type":"ping","id":"\ud800"}`,
	// Text every input path refuses: invalid UTF-8, NUL, lone surrogates.
	"{\"type\":\"ops\",\"canvas\":\"c1\",\"ops\":[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"text\",\"data\":{\"text\":\"\xff\xfe\"}}]}",
	`{"type":"ops","canvas":"c1","cbid":"b\u0000","ops":[]}`,
	`{"type":"ops","canvas":"c1","ops":[{"op":"node.add","id":"a"},{"op":"node.update","id":"n","set":{"data.k":["\ud83d\ude00","\ud83d"]}}]}`,
	`{"type":"presence","canvas":"c1","name":"\udc00","selection":["n\u0000"]}`,
	`{"type":"join","canvas":"c\u0000"}`,
	"{\"type\":\"auth\",\"token\":\"t\xc3\"}",
	`{"TYPE":"ping"}`,
	`{"type":"nope"}`,
	`null`,
	`[]`,
	``,
}

// FuzzDecodeFrame: decodeFrame never panics, fails only with errBadFrame,
// or with a *textError (and the frame) exactly when the frame holds
// refused text (textcheck), and a frame it accepts encodes to a frame it
// accepts as the same value.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		var te *textError
		if errors.As(err, &te) {
			if fr == nil || textcheck.JSON(data) == nil {
				t.Fatalf("decode %q: got %+v, %v; want a frame and a text error only for refused text", data, fr, err)
			}
			if oe := te.opError(); oe.Code != "invalid_text" || oe.Index < -1 || oe.Index >= max(len(fr.Ops), 1) {
				t.Fatalf("decode %q: got the reject %+v for %d ops; want invalid_text at -1 or an op", data, oe, len(fr.Ops))
			}
			return
		}
		if err == nil && textcheck.JSON(data) != nil {
			t.Fatalf("decode %q: accepted, with refused text %v", data, textcheck.JSON(data))
		}
		if err != nil {
			if !errors.Is(err, errBadFrame) {
				t.Fatalf("decode %q: got error %v; want a bad frame error", data, err)
			}
			if fr != nil {
				t.Fatalf("decode %q: got a frame with an error", data)
			}
			return
		}
		enc, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("encode %+v: %v", fr, err)
		}
		if p := textcheck.JSON(enc); p != nil {
			t.Fatalf("decode %q: encodes to %s, with refused text %v", data, enc, p)
		}
		again, err := decodeFrame(enc)
		if err != nil {
			t.Fatalf("decode %q: ok; its encoding %s: %v", data, enc, err)
		}
		enc2, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("decode %q, encode, decode, encode:\n got %s\nwant %s", data, enc2, enc)
		}
		// From the first encoding on, the value is a fixed point.
		third, err := decodeFrame(enc2)
		if err != nil || !reflect.DeepEqual(again, third) {
			t.Fatalf("decode %s: got %+v, %v; want %+v", enc2, third, err, again)
		}
	})
}

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for a frame that decodes, else a part of the error
	}{
		{`{"type":"ping","id":"1"}`, ""},
		{` {"type":"ping"} ` + "\n", ""},
		{`{"type":"ops","canvas":"c","cbid":"b"}`, ""}, // answered as an empty batch
		{`{"type":"ops","canvas":"c","ops":null}`, ""},
		{`{"type":"presence","canvas":"c"}`, ""}, // clears the sender's presence
		{`{"type":"ping"}}`, "data after the frame"},
		{`{"type":"ping"}]`, "data after the frame"},
		{`{"type":"ping"} x`, "data after the frame"},
		{`{"type":"ping","canvas":"c"}`, `ping does not take "canvas"`},
		{`{"type":"join","canvas":"c","cbid":"b"}`, `join does not take "cbid"`},
		{`{"type":"leave","canvas":"c","since":1}`, `leave does not take "since"`},
		{`{"type":"auth","token":"t","canvas":"c"}`, `auth does not take "canvas"`},
		{`{"type":"presence","canvas":"c","ops":[{"op":"node.delete","id":"n"}]}`, `presence does not take "ops"`},
		{`{"type":"ops","canvas":"c","cursor":{"x":1,"y":1}}`, `ops does not take "cursor"`},
		{`{"type":"ops","canvas":"c","ops":[],"extra":1}`, "unknown field"},
		{`{"type":"ops","ops":[]}`, "needs a canvas"},
		{`{"type":"auth"}`, "needs a token"},
		{`{"type":"Ping"}`, "unknown type"},
		{`{"id":"1"}`, "type is required"},
	} {
		f, err := decodeFrame([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("decode %s: got %v; want a frame", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errBadFrame)):
			t.Errorf("decode %s: got %+v, %v; want a bad frame error with %q", tc.in, f, err, tc.want)
		}
	}
}

// TestDecodedFrameOwnsItsBytes: the read loop returns a frame's buffer for
// reuse as soon as it is decoded, so nothing decoded may point into it.
func TestDecodedFrameOwnsItsBytes(t *testing.T) {
	raw := `{"type":"ops","canvas":"c1","cbid":"b1","ops":[` +
		`{"op":"node.add","id":"n1","kind":"text","x":1,"data":{"text":"hello","n":[1,2]}},` +
		`{"op":"node.update","id":"n1","set":{"data.text":"bye","x":3},"unset":["data.n"]},` +
		`{"op":"canvas.update","title":"T","settings":{"grid":true}}]}`
	buf := []byte(raw)
	f, err := decodeFrame(buf)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	got, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("the decoded frame changed with its buffer:\n got %s\nwant %s", got, want)
	}
}

// TestAckJSONMatchesMarshal: the hand-written ack encoding is byte for byte
// json.Marshal's.
func TestAckJSONMatchesMarshal(t *testing.T) {
	for _, c := range []struct {
		canvas, cbid string
		seq          uint64
	}{
		{"c1", "", 1}, {"c1", "b-17", 18446744073709551615}, {"A_b-9", `quote " back \ slash`, 42},
		{"c", "<html>&amp;", 7}, {"c", "tab\tnew\nline\u2028sep\u0001", 3}, {"c", "ünïcødé ✓ \xff bad", 9},
	} {
		want, err := json.Marshal(ackFrame{Type: "ack", Canvas: c.canvas, CBID: c.cbid, Seq: c.seq})
		if err != nil {
			t.Fatal(err)
		}
		if got := ackJSON(c.canvas, c.cbid, c.seq); string(got) != string(want) {
			t.Errorf("ackJSON(%q, %q, %d):\n got %s\nwant %s", c.canvas, c.cbid, c.seq, got, want)
		}
	}
}

func FuzzAckJSON(f *testing.F) {
	f.Add("c1", "b1", uint64(5))
	f.Add("c", "<\u2028\xff", uint64(0))
	f.Fuzz(func(t *testing.T, canvasID, cbid string, seq uint64) {
		want, err := json.Marshal(ackFrame{Type: "ack", Canvas: canvasID, CBID: cbid, Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		if got := ackJSON(canvasID, cbid, seq); string(got) != string(want) {
			t.Fatalf("ackJSON(%q, %q, %d):\n got %s\nwant %s", canvasID, cbid, seq, got, want)
		}
	})
}
