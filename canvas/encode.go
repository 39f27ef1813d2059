package canvas

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// isCompact reports whether raw is one valid JSON value that json.Marshal
// writes unchanged: no whitespace outside strings, and none of <, >, &,
// U+2028 and U+2029, which it escapes.
func isCompact(raw []byte) bool {
	inString, escaped := false, false
	for i, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			return false
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return json.Valid(raw)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as json.Marshal
// writes it: <, > and & escaped, invalid UTF-8 replaced by U+FFFD, U+2028
// and U+2029 escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// PositiveZero returns v, or 0 when v is -0: they are equal, and a canvas
// holds one of them so that its export does not depend on whether a store
// keeps the sign of a zero (SQLite does not).
func PositiveZero(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}

// PositiveZeros returns raw, one valid JSON value, with the minus sign of
// every number literal whose value is zero dropped: -0, -0.0 and -0e5 become
// 0, 0.0 and 0e5, which equal them; other literals keep their form. Without
// such a literal (the usual case) raw itself is returned, not a copy.
func PositiveZeros(raw json.RawMessage) json.RawMessage {
	if bytes.IndexByte(raw, '-') < 0 {
		return raw
	}
	var out json.RawMessage
	last := 0 // raw[last:] is not yet in out
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '-' && (i == 0 || raw[i-1] != 'e' && raw[i-1] != 'E') && zeroMantissa(raw[i+1:]):
			// A minus sign outside a string starts a number, unless it
			// is an exponent's.
			if out == nil {
				out = make(json.RawMessage, 0, len(raw)-1)
			}
			out = append(out, raw[last:i]...)
			last = i + 1
		}
	}
	if out == nil {
		return raw
	}
	return append(out, raw[last:]...)
}

// zeroMantissa reports whether the number literal at the start of b (after
// its sign) has only zeros before its exponent.
func zeroMantissa(b []byte) bool {
	for _, c := range b {
		switch {
		case c == '0' || c == '.':
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		default:
			return true // the literal ended
		}
	}
	return true
}

// BatchesObject writes head, the string value as JSON, then the encoded
// batches (raw of each item) as a "batches" array, closing the object: a
// changes frame or a journal record. It takes the items rather than a slice
// of their batches so that the object costs one allocation, its own bytes.
func BatchesObject[T any](head, value string, items []T, raw func(T) []byte) []byte {
	size := len(head) + len(value) + 32
	for _, it := range items {
		size += len(raw(it)) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	b = AppendJSONString(b, value)
	b = append(b, `,"batches":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, raw(it)...)
	}
	return append(b, "]}"...)
}
