package canvas

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendOps appends ops as json.Marshal encodes them, byte for byte, without
// reflection: this runs for every committed batch. It reports false, with
// dst in an unspecified state, for what it leaves to encoding/json: a
// non-finite number, or a raw value that is not valid JSON or not already in
// the compact form json.Marshal writes (json.Marshal then compacts it, or
// reports the error).
func AppendOps(dst []byte, ops []Op) ([]byte, bool) {
	if ops == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i := range ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendOp(dst, &ops[i]); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// appendOp writes the fields in the order of Op's declaration, leaving out
// the empty ones as omitempty does.
func appendOp(dst []byte, op *Op) ([]byte, bool) {
	ok := true
	dst = append(dst, `{"op":`...)
	dst = AppendJSONString(dst, op.Op)
	dst = appendStringField(dst, `,"id":`, op.ID)
	dst = appendStringField(dst, `,"kind":`, op.Kind)
	for _, f := range [...]struct {
		name string
		v    *float64
	}{{`,"x":`, op.X}, {`,"y":`, op.Y}, {`,"w":`, op.W}, {`,"h":`, op.H}, {`,"z":`, op.Z}} {
		if f.v != nil && ok {
			dst = append(dst, f.name...)
			dst, ok = appendFloat(dst, *f.v)
		}
	}
	for _, f := range [...]struct {
		name string
		m    map[string]json.RawMessage
	}{{`,"data":`, op.Data}, {`,"set":`, op.Set}} {
		if len(f.m) > 0 && ok {
			dst = append(dst, f.name...)
			dst, ok = appendRawMap(dst, f.m)
		}
	}
	if len(op.Unset) > 0 {
		dst = append(dst, `,"unset":[`...)
		for i, k := range op.Unset {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, k)
		}
		dst = append(dst, ']')
	}
	dst = appendStringField(dst, `,"source":`, op.Source)
	dst = appendStringField(dst, `,"target":`, op.Target)
	if op.Title != nil {
		dst = append(dst, `,"title":`...)
		dst = AppendJSONString(dst, *op.Title)
	}
	if len(op.Settings) > 0 && ok {
		dst = append(dst, `,"settings":`...)
		dst, ok = appendRawMap(dst, op.Settings)
	}
	return append(dst, '}'), ok
}

func appendStringField(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return AppendJSONString(append(dst, name...), v)
}

// appendFloat writes f as encoding/json writes a float64: like %g, but with
// the exponent cut-offs of ES6 and no padding of the exponent.
func appendFloat(dst []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

// appendRawMap writes a map with its keys sorted, as encoding/json does.
func appendRawMap(dst []byte, m map[string]json.RawMessage) ([]byte, bool) {
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(AppendJSONString(dst, k), ':')
		v := m[k]
		if v == nil { // json.RawMessage(nil) marshals as null
			dst = append(dst, "null"...)
			continue
		}
		if !isCompact(v) {
			return dst, false
		}
		dst = append(dst, v...)
	}
	return append(dst, '}'), true
}

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
