package canvas

import (
	"bytes"
	"encoding/json"
	"testing"
)

// checkEncoded fails when AppendJSONString does not write what json.Marshal
// writes for s, or when isCompact calls raw compact while json.Marshal would
// change it or reject it.
func checkEncoded(t *testing.T, s string, raw []byte) {
	t.Helper()
	if want, _ := json.Marshal(s); !bytes.Equal(AppendJSONString([]byte("prefix"), s), append([]byte("prefix"), want...)) {
		t.Fatalf("AppendJSONString(%q): got %s; want %s", s, AppendJSONString(nil, s), want)
	}
	if !isCompact(raw) {
		return // left to json.Marshal, which is right by definition
	}
	if want, err := json.Marshal(json.RawMessage(raw)); err != nil || !bytes.Equal(want, raw) {
		t.Fatalf("isCompact(%q): true; json.Marshal gives %s (%v)", raw, want, err)
	}
}

func TestEncodedForms(t *testing.T) {
	for _, c := range []struct {
		raw     string
		compact bool
	}{
		{`"v"`, true}, {`12.5`, true}, {`{"a":[1,2,{"b":null}],"c":"x\"y\\u003c"}`, true}, {`true`, true},
		{`{"a b":" c\td "}`, true}, {`1e400`, true},
		{`{ "a": 1 }`, false}, {`"<b>"`, false}, {"\"\u2029\"", false}, {`{"a":}`, false}, {``, false}, {`1 2`, false},
	} {
		checkEncoded(t, "  Tïtle <b> & \u2028 \x01 \xff ", []byte(c.raw))
		if got := isCompact([]byte(c.raw)); got != c.compact {
			t.Errorf("isCompact(%q): got %v; want %v", c.raw, got, c.compact)
		}
	}
}

// FuzzEncodedForms compares AppendJSONString and isCompact with json.Marshal
// on arbitrary strings and raw values.
func FuzzEncodedForms(f *testing.F) {
	f.Add("node.update", []byte(`"v"`))
	f.Add("a<b>&\u2028\xff\x00\"\\", []byte(`{"a": [1, "\u2028<"]}`))
	f.Add("", []byte(``))
	f.Fuzz(checkEncoded)
}
