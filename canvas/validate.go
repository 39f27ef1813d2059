package canvas

import (
	"encoding/json"
	"math"
	"unicode/utf8"
)

// checkID accepts 1 to MaxIDLen characters of [A-Za-z0-9_.:-].
func checkID(i int, id string) error {
	if id == "" {
		return opErr(i, CodeInvalidID, "id is required")
	}
	if len(id) > MaxIDLen {
		return opErr(i, CodeInvalidID, "id is %d bytes; at most %d", len(id), MaxIDLen)
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':'
		if !ok {
			return opErr(i, CodeInvalidID, "id %q: only letters, digits and _ - . : are allowed", id)
		}
	}
	return nil
}

// checkKey accepts a data or settings key of 1 to MaxKeyLen valid UTF-8 bytes.
func checkKey(i int, key, where string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) {
		return opErr(i, CodeInvalidOp, "%s: key %q must be 1 to %d bytes of UTF-8", where, key, MaxKeyLen)
	}
	return nil
}

// onlyFields rejects an op that carries fields its kind does not use, so a
// misspelt or misplaced field is an error rather than silently ignored.
func onlyFields(i int, op *Op, allowed ...string) error {
	present := map[string]bool{
		"id": op.ID != "", "kind": op.Kind != "", "x": op.X != nil, "y": op.Y != nil,
		"w": op.W != nil, "h": op.H != nil, "z": op.Z != nil, "data": op.Data != nil,
		"set": op.Set != nil, "unset": op.Unset != nil, "source": op.Source != "",
		"target": op.Target != "", "title": op.Title != nil, "settings": op.Settings != nil,
	}
	for _, a := range allowed {
		delete(present, a)
	}
	for _, f := range [...]string{"id", "kind", "x", "y", "w", "h", "z", "data", "set", "unset", "source", "target", "title", "settings"} {
		if present[f] {
			return opErr(i, CodeInvalidOp, "%s does not take %q", op.Op, f)
		}
	}
	return nil
}

// setGeometry checks v for the named geometry field and stores it in n.
func setGeometry(i int, n *Node, name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return opErr(i, CodeInvalidNumber, "%s must be finite", name)
	}
	switch name {
	case "x", "y":
		if math.Abs(v) > MaxCoord {
			return opErr(i, CodeInvalidNumber, "%s=%g is out of range ±%g", name, v, float64(MaxCoord))
		}
		if name == "x" {
			n.X = v
		} else {
			n.Y = v
		}
	case "w", "h":
		if v < 1 || v > MaxSize {
			return opErr(i, CodeInvalidNumber, "%s=%g is out of range 1..%g", name, v, float64(MaxSize))
		}
		if name == "w" {
			n.W = v
		} else {
			n.H = v
		}
	case "z":
		if v != math.Trunc(v) || math.Abs(v) > MaxZ {
			return opErr(i, CodeInvalidNumber, "z=%g must be a whole number within ±%g", v, float64(MaxZ))
		}
		n.Z = int64(v)
	default:
		return opErr(i, CodeInvalidOp, "unknown property %q (use x, y, w, h, z or data.<key>)", name)
	}
	return nil
}

// cleanData checks and compacts a data object, returning an empty map for
// nil, so that equal content always encodes to equal bytes.
func (s *State) cleanData(i int, in map[string]json.RawMessage, where string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(in))
	for k, raw := range in {
		if err := checkKey(i, k, where); err != nil {
			return nil, err
		}
		v, err := compactValue(i, raw, where+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	if size := dataSize(out); size > s.limits.MaxDataBytes {
		return nil, opErr(i, CodeDataTooLarge, "%s is %d bytes; at most %d", where, size, s.limits.MaxDataBytes)
	}
	return out, nil
}

// compactValue checks that raw is one JSON value with only finite numbers
// and returns it in the form encoding/json writes it: compacted, with <, >,
// &, U+2028 and U+2029 escaped. That form is a fixed point of encoding, so
// the bytes kept here are the bytes journaled, replayed and exported, and
// the size caps count the same live and on replay.
func compactValue(i int, raw json.RawMessage, where string) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, opErr(i, CodeInvalidOp, "%s: not a JSON value", where)
	}
	out, err := json.Marshal(raw) // validates as it compacts
	if err != nil {
		return nil, opErr(i, CodeInvalidOp, "%s: not a JSON value", where)
	}
	return json.RawMessage(out), nil
}

// dataSize is the encoded size of a data object.
func dataSize(m map[string]json.RawMessage) int {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 4
	}
	return n
}
