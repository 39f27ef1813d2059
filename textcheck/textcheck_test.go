package textcheck_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/skerhq/sker/textcheck"
)

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		in     string
		path   string
		key    bool
		reason textcheck.Reason // 0: accepted
	}{
		{in: `{"title":"plain","n":1.5e3,"ok":[true,false,null]}`},
		{in: `{"t":"\ud83d\ude00 \uD83D\uDE00 \uDBFF\uDFFF"}`},                    // pairs
		{in: `{"t":"\\u0000 \\ud800 \\\\"}`},                                      // escaped backslashes
		{in: `{"t":"\ufffd ` + "\uFFFD\u2028 ünï ✓" + `","\u00e9":"\u0001\/\n"}`}, // U+FFFD itself is text
		{in: ``},
		{in: `{"title":"a\u0000b"}`, path: "title", reason: textcheck.NUL},
		{in: `{"title":"a` + "\xff\xfe" + `b"}`, path: "title", reason: textcheck.InvalidUTF8},
		{in: `{"title":"` + "\xed\xa0\x80" + `"}`, path: "title", reason: textcheck.InvalidUTF8}, // a surrogate in UTF-8
		{in: `{"settings":{"grid":true,"theme":"\ud800"}}`, path: "settings.theme", reason: textcheck.LoneSurrogate},
		{in: `{"t":"\uDC00"}`, path: "t", reason: textcheck.LoneSurrogate},
		{in: `{"t":"\ud800\ud800"}`, path: "t", reason: textcheck.LoneSurrogate},
		{in: `{"t":"\ud800\u0041"}`, path: "t", reason: textcheck.LoneSurrogate},
		{in: `{"t":"x\ud800"}`, path: "t", reason: textcheck.LoneSurrogate},
		{in: `{"cbid":"b","ops":[{"op":"node.add"},{"op":"node.delete","id":"n"},{"op":"node.add","data":{"k":[1],"text":"\u0000"}}]}`,
			path: "ops[2].data.text", reason: textcheck.NUL},
		{in: `{"ops":[{"op":"node.update","set":{"data.text":"` + "\xc3" + `"}}]}`, path: `ops[0].set["data.text"]`, reason: textcheck.InvalidUTF8},
		{in: `{"settings":{"a\u0000":1}}`, path: "settings", key: true, reason: textcheck.NUL},
		{in: `{"\udc00":1}`, key: true, reason: textcheck.LoneSurrogate},
		{in: `"\u0000"`, reason: textcheck.NUL},
		{in: `[1,"a",["b","\u0000"]]`, path: "[2][1]", reason: textcheck.NUL},
		{in: `{"a":{"b":1,"c":[{}]},"d":"\u0000"}`, path: "d", reason: textcheck.NUL},
		{in: `{"a":[{"b":1},{"c":"\u0000"}]}`, path: "a[1].c", reason: textcheck.NUL},
		{in: `{"nodes":[{"id":"a"},{"id":"b","data":{"x":{"y":"` + "\x80" + `"}}}]}`, path: "nodes[1].data.x.y", reason: textcheck.InvalidUTF8},
		{in: `{"k\u00e9y":{"x":"\u0000"}}`, path: `["kéy"].x`, reason: textcheck.NUL},
		{in: `{"a\/b":["\u0000"]}`, path: `["a/b"][0]`, reason: textcheck.NUL},
		{in: `{"":"\u0000"}`, path: `[""]`, reason: textcheck.NUL},
		// Malformed JSON still has its refused text found.
		{in: `{"a":"\u0000"`, path: "a", reason: textcheck.NUL},
		{in: `\u0000`, reason: textcheck.NUL},
		{in: "{\"a\":1}\x00", reason: textcheck.NUL},
		{in: "\xff", reason: textcheck.InvalidUTF8},
	} {
		p := textcheck.JSON([]byte(tc.in))
		switch {
		case tc.reason == 0 && p != nil:
			t.Errorf("JSON(%q): got %+v (%v); want nil", tc.in, p, p)
		case tc.reason != 0 && p == nil:
			t.Errorf("JSON(%q): got nil; want %v at %q", tc.in, tc.reason, tc.path)
		case tc.reason != 0 && (p.Path != tc.path || p.Key != tc.key || p.Reason != tc.reason):
			t.Errorf("JSON(%q): got path %q key %v reason %v; want %q %v %v", tc.in, p.Path, p.Key, p.Reason, tc.path, tc.key, tc.reason)
		}
	}
}

func TestProblemError(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"title":"\u0000"}`, "title: holds U+0000 (NUL), which is not accepted"},
		{`{"s":{"\ud800":1}}`, "s: has a key that holds an unpaired UTF-16 surrogate escape, which is not accepted"},
		{"\"\xff\"", "is not valid UTF-8"},
	} {
		if got := textcheck.JSON([]byte(tc.in)).Error(); got != tc.want {
			t.Errorf("JSON(%q).Error(): got %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want textcheck.Reason
	}{
		{"", 0}, {"Plan ünï ✓ \uFFFD", 0}, {"a\x00b", textcheck.NUL}, {"a\xffb", textcheck.InvalidUTF8},
		{"\xed\xa0\x80", textcheck.InvalidUTF8}, {"\x00\xff", textcheck.InvalidUTF8},
	} {
		p := textcheck.String(tc.in)
		switch {
		case tc.want == 0 && p != nil:
			t.Errorf("String(%q): got %v; want nil", tc.in, p)
		case tc.want != 0 && (p == nil || p.Reason != tc.want || p.Path != ""):
			t.Errorf("String(%q): got %+v; want reason %v", tc.in, p, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"plain ✓", "plain ✓"}, {"a\x00b", "ab"}, {"a\xff\xfeb", "a\uFFFDb"}, {"\x00\xc3", "\uFFFD"},
	} {
		got := textcheck.Clean(tc.in)
		if got != tc.want || textcheck.String(got) != nil {
			t.Errorf("Clean(%q): got %q; want %q, accepted by String", tc.in, got, tc.want)
		}
	}
}

// FuzzJSON compares JSON with what encoding/json and unicode/utf8 say of
// the same input: nil means valid UTF-8 without NUL, and for valid JSON it
// means exactly that no decoded string holds NUL or a U+FFFD that stands
// for a lone surrogate (encoding/json replaces one with U+FFFD).
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"title":"a\u0000b"}`, `{"settings":{"theme":"\ud800"}}`, `{"t":"\ud83d\ude00"}`, `{"t":"\\ud800"}`,
		"{\"t\":\"\xff\xfe\"}", `{"ops":[{"data":{"text":"\uDFFF"}}]}`, `{"\u0000":[1,{"a":"\ufffd"}]}`,
		"[\"\xed\xa0\x80\"]", `"\ud800\u0041"`, `{"a":"\ud800\udc00\ud800"}`, "\"\uFFFD\"", `[1e400,"x"]`,
		`{"a":"\u0000"`, "\x00", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := textcheck.JSON(data)
		if p == nil && (!utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0) {
			t.Fatalf("JSON(%q): got nil; the input is not UTF-8 or holds a NUL byte", data)
		}
		if p != nil && p.Reason == textcheck.InvalidUTF8 && utf8.Valid(data) {
			t.Fatalf("JSON(%q): got %v; the input is valid UTF-8", data, p)
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("decode valid JSON %q: %v", data, err)
		}
		nul, replaced := false, 0
		walkStrings(v, func(s string) {
			nul = nul || strings.IndexByte(s, 0) >= 0
			replaced += strings.Count(s, "\uFFFD")
		})
		lone := replaced > literalReplacements(data)
		switch {
		case p == nil && (nul || lone):
			t.Fatalf("JSON(%q): got nil; decoded strings hold NUL (%v) or replaced surrogates (%v)", data, nul, lone)
		case p != nil && !nul && !lone:
			t.Fatalf("JSON(%q): got %v; decoded strings hold no NUL and no replaced surrogate", data, p)
		case p != nil && p.Reason == textcheck.NUL && !nul:
			t.Fatalf("JSON(%q): got %v; no decoded string holds NUL", data, p)
		case p != nil && p.Reason == textcheck.LoneSurrogate && !lone:
			t.Fatalf("JSON(%q): got %v; no decoded string holds a replaced surrogate", data, p)
		}
	})
}

func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range v {
			fn(k)
			walkStrings(e, fn)
		}
	}
}

// literalReplacements counts the U+FFFD a valid JSON text spells out, raw
// or as \ufffd escapes.
func literalReplacements(data []byte) int {
	n := bytes.Count(data, []byte("\uFFFD"))
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+5 < len(data) && data[i+1] == 'u' && strings.EqualFold(string(data[i+2:i+6]), "fffd") {
			n++
		}
		i++ // the escaped character
	}
	return n
}
