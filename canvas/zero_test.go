package canvas

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// negativeZeroLiteral reports whether num, a JSON number literal, is a zero
// written with a minus sign (-0, -0.0, -0e5, ...).
func negativeZeroLiteral(num string) bool {
	m, ok := strings.CutPrefix(num, "-")
	if !ok {
		return false
	}
	if i := strings.IndexAny(m, "eE"); i >= 0 {
		m = m[:i]
	}
	return strings.Trim(m, "0.") == ""
}

// negativeZeroIn returns the first negative zero among the number literals
// of raw, a JSON value, or "" when there is none.
func negativeZeroIn(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if n, ok := tok.(json.Number); ok && negativeZeroLiteral(string(n)) {
			return string(n)
		}
	}
}

// TestNegativeZeroIsStoredAsZero: -0 equals 0, and the canvas holds it as
// 0 wherever a number enters it (geometry, data, settings), so that a
// canvas has one export whatever the store does with the sign of a zero.
// Number literals in data keep their form otherwise.
func TestNegativeZeroIsStoredAsZero(t *testing.T) {
	s := NewState("cv", Meta{Title: "Z"}, Limits{})
	negZero := math.Copysign(0, -1)
	for _, op := range []Op{
		{Op: OpNodeAdd, ID: "a", Kind: "text", X: &negZero, Y: &negZero, Z: &negZero, Data: raws(
			"a", `-0`, "b", `-0.0`, "c", `-0e5`, "d", `[-0, {"e":-0E-2}]`, "m", `-0.000e+7`,
			"n", `-0.5`, "o", `-10`, "p", `-1e-400`, "q", `[1e-0,-0e-0]`, "s", `"-0 \"-0\""`, "t", `{"-0":-0}`)},
		{Op: OpNodeAdd, ID: "b", Kind: "text"},
		{Op: OpEdgeAdd, ID: "ab", Source: "a", Target: "b", Data: raws("w", `-0`)},
	} {
		if _, err := s.Apply(Batch{Author: "u", At: 1, Ops: []Op{op}}); err != nil {
			t.Fatalf("apply %s: %v", op.Op, err)
		}
	}
	for _, set := range []map[string]json.RawMessage{
		raws("x", `-0`, "y", `-0.0e3`, "data.f", `-0.00`, "data.g", `{"h" : -0}`),
		raws("x", `-1e-400`, "y", `-0E0`), // -1e-400 is -0 as a float64
	} {
		if _, err := s.Apply(Batch{Author: "u", At: 2, Ops: []Op{{Op: OpNodeUpdate, ID: "b", Set: set}}}); err != nil {
			t.Fatalf("apply node.update %v: %v", set, err)
		}
	}
	if _, err := s.Apply(Batch{Author: "u", At: 3, Ops: []Op{{Op: OpCanvasUpdate, Settings: raws("zoom", `-0`, "grid", `[-0.0]`)}}}); err != nil {
		t.Fatalf("apply canvas.update: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		n := s.Nodes[id]
		if math.Signbit(n.X) || math.Signbit(n.Y) {
			t.Errorf("node %s: got x %v (sign bit %v), y %v (sign bit %v); want 0 and 0", id, n.X, math.Signbit(n.X), n.Y, math.Signbit(n.Y))
		}
	}
	ex := string(exportJSON(t, s))
	for _, want := range []string{
		`"settings":{"grid":[0.0],"zoom":0}`,
		`"id":"a","kind":"text","x":0,"y":0,"w":240,"h":120,"z":0,` +
			`"data":{"a":0,"b":0.0,"c":0e5,"d":[0,{"e":0E-2}],"m":0.000e+7,"n":-0.5,"o":-10,"p":-1e-400,"q":[1e-0,0e-0],"s":"-0 \"-0\"","t":{"-0":0}}`,
		`"id":"b","kind":"text","x":0,"y":0,"w":240,"h":120,"z":0,"data":{"f":0.00,"g":{"h":0}}`,
		`"id":"ab","source":"a","target":"b","kind":"default","data":{"w":0}`,
	} {
		if !strings.Contains(ex, want) {
			t.Errorf("export: got %s; want it to hold %s", ex, want)
		}
	}
	if err := checkState(s); err != nil {
		t.Errorf("state: %v", err)
	}
}

// FuzzPositiveZeros: for any JSON value, PositiveZeros returns a JSON value
// with the same tokens but for the minus signs of negative zeros, which are
// gone; the result is a fixed point, and a value without a negative zero is
// returned unchanged.
func FuzzPositiveZeros(f *testing.F) {
	for _, seed := range []string{`-0`, `-0.0e-0`, `[-0,-0.5,-10,"-0",{"-0":-0E+1}]`, `"\"-0\\"`, `-1e-400`, `{"a" : [ -0 , 1 ]}`, `0`, `"x"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		out := PositiveZeros(raw)
		if !json.Valid(out) {
			t.Fatalf("PositiveZeros(%s) = %s: not JSON", raw, out)
		}
		if z := negativeZeroIn(out); z != "" {
			t.Fatalf("PositiveZeros(%s) = %s: still holds %s", raw, out, z)
		}
		if again := PositiveZeros(out); !bytes.Equal(again, out) {
			t.Fatalf("PositiveZeros(%s) = %s; applied again %s; want a fixed point", raw, out, again)
		}
		if negativeZeroIn(raw) == "" && !bytes.Equal(out, raw) {
			t.Fatalf("PositiveZeros(%s) = %s; want it unchanged (no negative zero)", raw, out)
		}
		in, got := tokens(t, raw), tokens(t, out)
		if len(in) != len(got) {
			t.Fatalf("PositiveZeros(%s) = %s: %d tokens; want %d", raw, out, len(got), len(in))
		}
		for i := range in {
			if in[i] == got[i] {
				continue
			}
			n, ok := in[i].(json.Number)
			if !ok || !negativeZeroLiteral(string(n)) || json.Number("-"+string(got[i].(json.Number))) != n {
				t.Fatalf("PositiveZeros(%s) = %s: token %d is %v; want %v, or it without the minus sign of a zero", raw, out, i, got[i], in[i])
			}
		}
	})
}

func tokens(t *testing.T, raw []byte) []json.Token {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []json.Token
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		out = append(out, tok)
	}
}
