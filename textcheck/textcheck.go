// Package textcheck finds the text SKER refuses to keep: a string that is
// not valid UTF-8, or that holds U+0000 (NUL) or a lone UTF-16 surrogate
// escape (\ud800 without its pair). Such text cannot be stored the same way
// by every store (PostgreSQL refuses NUL and invalid UTF-8, SQLite keeps
// them) and cannot be read by every client (a browser closes a WebSocket
// whose text frame is not UTF-8), so every place where input enters the
// server checks it here and refuses the request, naming where the text is.
package textcheck

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reason is what is wrong with a refused string.
type Reason int

// Reasons, in no particular order.
const (
	InvalidUTF8   Reason = iota + 1 // bytes that are not UTF-8
	NUL                             // U+0000, as \u0000 or as a raw byte
	LoneSurrogate                   // \ud800-\udfff without its other half
)

func (r Reason) String() string {
	switch r {
	case InvalidUTF8:
		return "is not valid UTF-8"
	case NUL:
		return "holds U+0000 (NUL), which is not accepted"
	case LoneSurrogate:
		return "holds an unpaired UTF-16 surrogate escape, which is not accepted"
	}
	return "is not accepted text"
}

// Problem is the first refused string of an input.
type Problem struct {
	// Path names the string as a request field: "title",
	// "settings.theme", "ops[2].data.text", `set["data.text"]`; "" is the
	// input as a whole. For a refused object key it names the object.
	Path string
	// Key is true when the refused string is an object key.
	Key    bool
	Reason Reason
}

// Message says what is wrong, without the path.
func (p *Problem) Message() string {
	if p.Key {
		return "has a key that " + p.Reason.String()
	}
	return p.Reason.String()
}

func (p *Problem) Error() string {
	if p.Path == "" {
		return p.Message()
	}
	return p.Path + ": " + p.Message()
}

// String checks a Go string: nil when it is valid UTF-8 without NUL. (A
// surrogate cannot be in valid UTF-8.)
func String(s string) *Problem {
	if !utf8.ValidString(s) {
		return &Problem{Reason: InvalidUTF8}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return &Problem{Reason: NUL}
	}
	return nil
}

// Clean makes text from outside the server (an AI provider's answer)
// acceptable rather than refusing it: invalid UTF-8 becomes U+FFFD and NUL
// is dropped.
func Clean(s string) string {
	if String(s) == nil {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// JSON checks every string, keys included, of one JSON text and returns
// the first refused one in document order, or nil. It expects valid JSON
// (callers decode the input first); on malformed input it never panics
// and still returns nil only when data holds no refused text anywhere.
func JSON(data []byte) *Problem {
	// Almost every input passes both of these, which run at memory speed.
	if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 && badEscape(data) == 0 {
		return nil
	}
	s := scanner{data: data}
	if p := s.run(); p != nil {
		return p
	}
	// Malformed JSON whose refused text the scan did not place.
	return &Problem{Reason: quickReason(data)}
}

// badEscape returns the reason of the first \u0000 or \u escape of a
// surrogate without its pair in data, or 0. Outside strings valid JSON has
// no backslash, so escapes are read from each backslash on.
func badEscape(data []byte) Reason {
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			return 0
		}
		next, reason := escape(data, i+j)
		if reason != 0 {
			return reason
		}
		i = next
	}
	return 0
}

// escape reads the escape sequence at data[i] (a backslash) and returns
// the index after it and what is wrong with it (0: nothing). A surrogate
// pair is read as one escape.
func escape(data []byte, i int) (next int, reason Reason) {
	switch {
	case i+1 >= len(data):
		return i + 1, 0
	case data[i+1] >= utf8.RuneSelf:
		return i + 1, 0 // malformed; the character after is read as one
	case data[i+1] != 'u':
		return i + 2, 0
	}
	v, ok := hex4(data, i+2)
	switch {
	case !ok:
		return i + 2, 0
	case v == 0:
		return i + 6, NUL
	case v >= 0xD800 && v <= 0xDBFF:
		if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
			if w, ok := hex4(data, i+8); ok && w >= 0xDC00 && w <= 0xDFFF {
				return i + 12, 0
			}
		}
		return i + 6, LoneSurrogate
	case v >= 0xDC00 && v <= 0xDFFF:
		return i + 6, LoneSurrogate
	}
	return i + 6, 0
}

func quickReason(data []byte) Reason {
	switch {
	case !utf8.Valid(data):
		return InvalidUTF8
	case bytes.IndexByte(data, 0) >= 0:
		return NUL
	}
	return badEscape(data)
}

// hex4 reads the four hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var v rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// level is one open object or array on the way to the current value.
type level struct {
	object  bool
	wantKey bool   // object: the next string is a key
	key     []byte // object: the current member's key, as a JSON string
	index   int    // array: the current element
}

// scanner walks the tokens of a JSON text, following only what a path
// needs: it checks the strings and does not validate the grammar.
type scanner struct {
	data  []byte
	stack []level
}

func (s *scanner) run() *Problem {
	data := s.data
	for i := 0; i < len(data); {
		switch data[i] {
		case '{':
			s.stack = append(s.stack, level{object: true, wantKey: true})
		case '[':
			s.stack = append(s.stack, level{})
		case '}', ']':
			if len(s.stack) > 0 {
				s.stack = s.stack[:len(s.stack)-1]
			}
		case ',':
			if top := s.top(); top != nil {
				if top.object {
					top.wantKey = true
				} else {
					top.index++
				}
			}
		case '"':
			end, reason := scanString(data, i)
			if top := s.top(); top != nil && top.object && top.wantKey {
				if reason != 0 {
					return &Problem{Path: s.path(len(s.stack) - 1), Key: true, Reason: reason}
				}
				top.key, top.wantKey = data[i:end], false
			} else if reason != 0 {
				return &Problem{Path: s.path(len(s.stack)), Reason: reason}
			}
			i = end
			continue
		case 0:
			return &Problem{Path: s.path(len(s.stack)), Reason: NUL}
		default:
			if data[i] >= utf8.RuneSelf {
				// Outside a string: malformed JSON, but still refused text.
				r, size := utf8.DecodeRune(data[i:])
				if r == utf8.RuneError && size == 1 {
					return &Problem{Path: s.path(len(s.stack)), Reason: InvalidUTF8}
				}
				i += size
				continue
			}
		}
		i++
	}
	return nil
}

func (s *scanner) top() *level {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// path names the value that the first n levels lead to.
func (s *scanner) path(n int) string {
	var b strings.Builder
	for _, l := range s.stack[:n] {
		if !l.object {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(l.index))
			b.WriteByte(']')
			continue
		}
		var key string
		if json.Unmarshal(l.key, &key) != nil {
			key = string(l.key)
		}
		if plainKey(key) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
			continue
		}
		q, _ := json.Marshal(key)
		b.WriteByte('[')
		b.Write(q)
		b.WriteByte(']')
	}
	return b.String()
}

// plainKey reports whether key can be written in a path without quotes.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range []byte(key) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// scanString checks the string that opens at data[i] and returns the index
// after its closing quote (or len(data)) and what is wrong with it (0:
// nothing). The rest of the string is skipped after a fault.
func scanString(data []byte, i int) (end int, reason Reason) {
	for i++; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, reason
		case c == '\\':
			next, r := escape(data, i)
			if reason == 0 {
				reason = r
			}
			i = next
		case c == 0:
			if reason == 0 {
				reason = NUL
			}
			i++
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 && reason == 0 {
				reason = InvalidUTF8
			}
			i += size
		}
	}
	return len(data), reason
}
