package canvas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
)

func TestDecodeOps(t *testing.T) {
	tests := []struct {
		name  string
		input string
		n     int  // ops decoded, when ok
		ok    bool // false: want invalid_op at index -1
	}{
		{name: "empty array", input: `[]`, n: 0, ok: true},
		{name: "one op", input: `[{"op":"node.add","id":"a","kind":"text","x":1.5,"data":{"k":[1]}}]`, n: 1, ok: true},
		{name: "every field", input: `[{"op":"x","id":"a","kind":"k","x":1,"y":2,"w":3,"h":4,"z":5,"data":{},"set":{"x":1},"unset":["data.k"],"source":"s","target":"t","title":"T","settings":{"a":null}}]`, n: 1, ok: true},
		{name: "several ops", input: `[{"op":"node.delete","id":"a"},{"op":"edge.delete","id":"e"},{"op":"canvas.update","title":"t"}]`, n: 3, ok: true},
		{name: "surrounding whitespace", input: " \n\t[ {\"op\":\"node.delete\",\"id\":\"a\"} ]\r\n ", n: 1, ok: true},
		{name: "null element", input: `[null]`, n: 1, ok: true},

		{name: "empty input", input: ``},
		{name: "whitespace only", input: " \n "},
		{name: "unknown field", input: `[{"op":"node.add","id":"a","kind":"text","colour":"red"}]`},
		{name: "unknown nested field position", input: `[{"op":"node.delete","id":"a"},{"op":"node.delete","ID2":"b"}]`},
		{name: "object not array", input: `{"op":"node.add"}`},
		{name: "string not array", input: `"ops"`},
		{name: "number not array", input: `1`},
		{name: "null not array", input: `null`},
		{name: "array of numbers", input: `[1,2]`},
		{name: "wrong field type", input: `[{"op":1}]`},
		{name: "x as string", input: `[{"op":"node.add","x":"1"}]`},
		{name: "number out of float range", input: `[{"op":"node.add","x":1e400}]`},
		{name: "unset not array", input: `[{"op":"node.update","unset":"data.k"}]`},
		{name: "truncated", input: `[{"op":`},
		{name: "unclosed array", input: `[{"op":"node.delete","id":"a"}`},
		{name: "trailing array", input: `[] []`},
		{name: "trailing object", input: `[]{}`},
		{name: "trailing garbage", input: `[]x`},
		{name: "trailing comma", input: `[],`},
		{name: "trailing close bracket", input: `[]]`},
		{name: "trailing close brace", input: `[]}`},
		{name: "trailing form feed", input: "[]\f"},
		{name: "not JSON", input: `node.add a`},
		{name: "invalid data value", input: `[{"op":"node.add","data":{"k":tru}}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := DecodeOps([]byte(tc.input))
			if tc.ok {
				if err != nil {
					t.Fatalf("DecodeOps(%q): got %v; want success", tc.input, err)
				}
				if len(ops) != tc.n || ops == nil {
					t.Fatalf("DecodeOps(%q): got %d ops (nil %v); want %d", tc.input, len(ops), ops == nil, tc.n)
				}
				return
			}
			oe := asOpError(t, err)
			if oe.Code != apierr.CodeInvalidOp || oe.Index != -1 {
				t.Fatalf("DecodeOps(%q): got %s at %d; want %s at -1", tc.input, oe.Code, oe.Index, apierr.CodeInvalidOp)
			}
			if ops != nil {
				t.Fatalf("DecodeOps(%q): got ops %v with the error; want nil", tc.input, ops)
			}
		})
	}
}

func TestDecodeOpsFields(t *testing.T) {
	ops, err := DecodeOps([]byte(`[{"op":"node.update","id":"a","set":{"x":-2,"data.k":{ "b" : 1 }},"unset":["data.j"]},
		{"op":"canvas.update","title":"T","settings":{"s":null}},
		{"op":"edge.add","id":"e","source":"a","target":"b","kind":"default"}]`))
	if err != nil {
		t.Fatalf("DecodeOps: %v", err)
	}
	up, cv, ed := ops[0], ops[1], ops[2]
	if up.Op != OpNodeUpdate || up.ID != "a" || string(up.Set["x"]) != "-2" || string(up.Set["data.k"]) != `{ "b" : 1 }` ||
		len(up.Unset) != 1 || up.Unset[0] != "data.j" {
		t.Fatalf("node.update: got %+v", up)
	}
	if cv.Title == nil || *cv.Title != "T" || string(cv.Settings["s"]) != "null" {
		t.Fatalf("canvas.update: got %+v", cv)
	}
	if ed.Source != "a" || ed.Target != "b" || ed.Kind != "default" || ed.X != nil {
		t.Fatalf("edge.add: got %+v", ed)
	}
}

// TestBatchJSONRoundTrip checks that what the journal stores (a Batch as
// JSON) decodes back to ops that apply to the same state: replay must
// reproduce what was acknowledged.
func TestBatchJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		ops    []Op
	}{
		{"settings emptied", Limits{}, []Op{{Op: OpCanvasUpdate, Settings: raws()}}},
		{"set empty and unset", Limits{}, []Op{{Op: OpNodeUpdate, ID: "a", Set: raws(), Unset: []string{"data.title"}}}},
		{"unset empty and set", Limits{}, []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `1`), Unset: []string{}}}},
		{"empty data", Limits{}, []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws()}}},
		{"HTML characters at the data cap", Limits{MaxDataBytes: 64}, []Op{
			{Op: OpNodeUpdate, ID: "c", Set: raws("data.h", `"<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"`)},
		}},
		{"line separator in settings", Limits{}, []Op{{Op: OpCanvasUpdate, Settings: raws("s", "\"a\u2028b\"")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live := newFixture(t, tc.limits)
			replay := newFixture(t, tc.limits)
			b := Batch{Author: "u", At: 3, Ops: tc.ops}
			_, liveErr := live.Apply(b)

			rec, err := json.Marshal(b)
			if err != nil {
				t.Fatalf("marshal batch: %v", err)
			}
			var back Batch
			if err := json.Unmarshal(rec, &back); err != nil {
				t.Fatalf("unmarshal batch %s: %v", rec, err)
			}
			_, replayErr := replay.Apply(back)
			if (liveErr == nil) != (replayErr == nil) {
				t.Fatalf("live apply: %v; replay of %s: %v; want the same outcome", liveErr, rec, replayErr)
			}
			if got, want := exportJSON(t, replay), exportJSON(t, live); string(got) != string(want) {
				t.Fatalf("replayed export:\n got %s\nwant %s", got, want)
			}
			if liveErr == nil {
				for id, n := range live.Nodes {
					if a, b := dataSize(n.Data), dataSize(replay.Nodes[id].Data); a != b {
						t.Fatalf("node %s data size: live %d; replay %d", id, a, b)
					}
				}
			}
		})
	}
}

// TestDecodeOpsRefusesInvalidText: a string of a batch that is not valid
// UTF-8 or holds U+0000 or a lone surrogate is refused with invalid_text,
// at the op that holds it and naming the field within it; decoded, it
// would have been replaced in some fields and kept raw in others.
func TestDecodeOpsRefusesInvalidText(t *testing.T) {
	for _, tc := range []struct {
		input string
		index int
		msg   string // a prefix of the message
	}{
		{"[{\"op\":\"node.add\",\"id\":\"n\",\"kind\":\"text\",\"data\":{\"text\":\"\xff\xfe\"}}]", 0, "data.text: is not valid UTF-8"},
		{`[{"op":"node.delete","id":"a"},{"op":"node.update","id":"a","set":{"data.t":"a\u0000b"}}]`, 1, `set["data.t"]: holds U+0000`},
		{`[{"op":"node.delete","id":"a"},{"op":"node.delete","id":"b"},{"op":"canvas.update","settings":{"\udc00":1}}]`, 2, "settings: has a key that holds an unpaired"},
		{`[{"op":"node.add","id":"n\u0000","kind":"text"}]`, 0, "id: holds U+0000"},
		{`[{"op":"node.update","id":"a","unset":["data.\ud800"]}]`, 0, "unset[0]: holds an unpaired"},
	} {
		ops, err := DecodeOps([]byte(tc.input))
		var oe *OpError
		if !errors.As(err, &oe) || oe.Code != apierr.CodeInvalidText || oe.Index != tc.index || !strings.HasPrefix(oe.Message, tc.msg) || ops != nil {
			t.Errorf("DecodeOps(%q): got %v, %#v; want invalid_text at op %d with message %q…", tc.input, ops, err, tc.index, tc.msg)
		}
	}
	// Valid text is not refused: pairs, U+FFFD, an escaped backslash.
	if _, err := DecodeOps([]byte(`[{"op":"node.add","id":"n","kind":"text","data":{"t":"\ud83d\ude00 \ufffd \\u0000"}}]`)); err != nil {
		t.Errorf("DecodeOps of valid text: %v", err)
	}
}
