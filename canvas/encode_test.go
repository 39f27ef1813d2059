package canvas

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// checkAppendOps fails when AppendOps does not write what json.Marshal
// writes, or claims to succeed where json.Marshal fails.
func checkAppendOps(t *testing.T, ops []Op) {
	t.Helper()
	want, wantErr := json.Marshal(ops)
	got, ok := AppendOps([]byte("prefix"), ops)
	if !ok {
		return // left to json.Marshal, which is right by definition
	}
	if wantErr != nil {
		t.Fatalf("AppendOps(%#v): got %s; want a fallback (json.Marshal fails: %v)", ops, got, wantErr)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendOps(%#v):\n got %s\nwant prefix%s", ops, got, want)
	}
}

func TestAppendOps(t *testing.T) {
	nan, inf, tiny, huge := math.NaN(), math.Inf(-1), 1e-7, 1e21
	title := "  Tïtle <b> & \u2028 \x01 \xff "
	cases := []struct {
		name     string
		ops      []Op
		fallback bool // AppendOps leaves it to json.Marshal
	}{
		{name: "nil", ops: nil},
		{name: "empty", ops: []Op{}},
		{name: "update", ops: []Op{{Op: OpNodeUpdate, ID: "n1", Set: raws("data.text", `"v"`, "x", `12.5`)}}},
		{name: "add", ops: []Op{{Op: OpNodeAdd, ID: "a", Kind: "text", X: ptr(1.0), Y: ptr(-2.5), W: ptr(tiny), H: ptr(huge), Z: ptr(math.Copysign(0, -1)),
			Data: raws("k", `{"a":[1,2,{"b":null}],"c":"x\"y\\u003c"}`, "é", `true`)}}},
		{name: "every field", ops: []Op{
			{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "b", Kind: "default", Data: map[string]json.RawMessage{}},
			{Op: OpNodeUpdate, ID: "a", Set: raws("data.k", `1e400`), Unset: []string{"data.x", "data.<y>"}},
			{Op: OpCanvasUpdate, Title: &title, Settings: raws("b", `null`, "a", `"s"`)},
			{Op: OpNodeDelete, ID: "z"},
		}},
		{name: "nil raw", ops: []Op{{Op: OpNodeUpdate, Set: map[string]json.RawMessage{"data.k": nil}}}},
		{name: "many keys", ops: []Op{{Op: OpNodeUpdate, Set: raws("j", "1", "i", "2", "h", "3", "g", "4", "f", "5", "e", "6", "d", "7", "c", "8", "b", "9", "a", "0")}}},
		{name: "spaces in strings", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", `{"a b":" c\td "}`)}}},
		{name: "raw with spaces", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", `{ "a": 1 }`)}}, fallback: true},
		{name: "raw with html", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", `"<b>"`)}}, fallback: true},
		{name: "raw with U+2029", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", "\"\u2029\"")}}, fallback: true},
		{name: "raw invalid", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", `{"a":}`)}}, fallback: true},
		{name: "raw empty", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", ``)}}, fallback: true},
		{name: "raw two values", ops: []Op{{Op: OpNodeUpdate, Set: raws("data.k", `1 2`)}}, fallback: true},
		{name: "NaN", ops: []Op{{Op: OpNodeAdd, X: &nan}}, fallback: true},
		{name: "infinity", ops: []Op{{Op: OpNodeAdd, Z: &inf}}, fallback: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkAppendOps(t, c.ops)
			if _, ok := AppendOps(nil, c.ops); ok == c.fallback {
				t.Errorf("AppendOps ok: got %v; want %v", ok, !c.fallback)
			}
		})
	}
}

func TestAppendFloat(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e20, 1e21, 123456789e13, -1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2} {
		checkAppendOps(t, []Op{{Op: OpNodeAdd, X: &f}})
	}
}

// FuzzAppendOps compares AppendOps with json.Marshal on ops holding
// arbitrary strings, raw values and numbers.
func FuzzAppendOps(f *testing.F) {
	f.Add("node.update", []byte(`"v"`), 1.5)
	f.Add("a<b>&\u2028\xff\x00\"\\", []byte(`{"a": [1, "\u2028<"]}`), 1e-9)
	f.Add("", []byte(``), math.Inf(1))
	f.Fuzz(func(t *testing.T, s string, raw []byte, x float64) {
		checkAppendOps(t, []Op{
			{Op: s, ID: s, Kind: s, X: &x, Set: map[string]json.RawMessage{s: raw, "k": raw}, Unset: []string{s}, Title: &s},
			{Op: s, Data: map[string]json.RawMessage{s: raw}, Settings: map[string]json.RawMessage{s + "x": raw}, Source: s, Target: s},
		})
		if want, _ := json.Marshal(s); !bytes.Equal(AppendJSONString(nil, s), want) {
			t.Fatalf("AppendJSONString(%q): got %s; want %s", s, AppendJSONString(nil, s), want)
		}
	})
}
