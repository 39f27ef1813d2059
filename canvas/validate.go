package canvas

import (
	"encoding/json"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/skerhq/sker/apierr"
)

// checkID accepts 1 to MaxIDLen characters of [A-Za-z0-9_.:-].
func checkID(i int, id string) error {
	if id == "" {
		return opErr(i, apierr.CodeInvalidID, "id is required")
	}
	if len(id) > MaxIDLen {
		return opErr(i, apierr.CodeInvalidID, "id is %d bytes; at most %d", len(id), MaxIDLen)
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':'
		if !ok {
			return opErr(i, apierr.CodeInvalidID, "id %q: only letters, digits and _ - . : are allowed", id)
		}
	}
	return nil
}

// checkKey accepts a data or settings key of 1 to MaxKeyLen valid UTF-8 bytes.
func checkKey(i int, key, where string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) {
		return opErr(i, apierr.CodeInvalidOp, "%s: key %q must be 1 to %d bytes of UTF-8", where, key, MaxKeyLen)
	}
	return nil
}

// fieldSet is a set of the optional fields of an Op, one bit each. The bits
// are in the order the fields are reported, so that a bad op always names
// the same field whatever else it carries.
type fieldSet uint32

const (
	fID fieldSet = 1 << iota
	fKind
	fX
	fY
	fW
	fH
	fZ
	fData
	fSet
	fUnset
	fSource
	fTarget
	fTitle
	fSettings
	fThread
	fNode
	fText
	fMentions
	fResolved
)

// fieldNames are the JSON names of the fields, by bit position.
var fieldNames = [...]string{"id", "kind", "x", "y", "w", "h", "z", "data", "set", "unset", "source", "target", "title", "settings",
	"thread", "node", "text", "mentions", "resolved"}

// fields returns the set of fields op carries.
func (op *Op) fields() fieldSet {
	var f fieldSet
	set := func(bit fieldSet, present bool) {
		if present {
			f |= bit
		}
	}
	set(fID, op.ID != "")
	set(fKind, op.Kind != "")
	set(fX, op.X != nil)
	set(fY, op.Y != nil)
	set(fW, op.W != nil)
	set(fH, op.H != nil)
	set(fZ, op.Z != nil)
	set(fData, op.Data != nil)
	set(fSet, op.Set != nil)
	set(fUnset, op.Unset != nil)
	set(fSource, op.Source != "")
	set(fTarget, op.Target != "")
	set(fTitle, op.Title != nil)
	set(fSettings, op.Settings != nil)
	set(fThread, op.Thread != "")
	set(fNode, op.Node != "")
	set(fText, op.Text != nil)
	set(fMentions, op.Mentions != nil)
	set(fResolved, op.Resolved != nil)
	return f
}

// onlyFields rejects an op that carries fields its kind does not use, so a
// misspelt or misplaced field is an error rather than silently ignored. It
// runs for every op, so it works on bits and allocates only for the error.
func onlyFields(i int, op *Op, allowed fieldSet) error {
	extra := op.fields() &^ allowed
	if extra == 0 {
		return nil
	}
	return opErr(i, apierr.CodeInvalidOp, "%s does not take %q", op.Op, fieldNames[bits.TrailingZeros32(uint32(extra))])
}

// setGeometry checks v for the named geometry field and stores it in n.
func setGeometry(i int, n *Node, name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return opErr(i, apierr.CodeInvalidNumber, "%s must be finite", name)
	}
	switch name {
	case "x", "y":
		if math.Abs(v) > MaxCoord {
			return opErr(i, apierr.CodeInvalidNumber, "%s=%g is out of range ±%g", name, v, float64(MaxCoord))
		}
		if name == "x" {
			n.X = v
		} else {
			n.Y = v
		}
	case "w", "h":
		if v < 1 || v > MaxSize {
			return opErr(i, apierr.CodeInvalidNumber, "%s=%g is out of range 1..%g", name, v, float64(MaxSize))
		}
		if name == "w" {
			n.W = v
		} else {
			n.H = v
		}
	case "z":
		if v != math.Trunc(v) || math.Abs(v) > MaxZ {
			return opErr(i, apierr.CodeInvalidNumber, "z=%g must be a whole number within ±%g", v, float64(MaxZ))
		}
		n.Z = int64(v)
	default:
		return opErr(i, apierr.CodeInvalidOp, "unknown property %q (use x, y, w, h, z or data.<key>)", name)
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
		return nil, opErr(i, apierr.CodeDataTooLarge, "%s is %d bytes; at most %d", where, size, s.limits.MaxDataBytes)
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
		return nil, opErr(i, apierr.CodeInvalidOp, "%s: not a JSON value", where)
	}
	if isCompact(raw) {
		// What json.Marshal would return, without its encoder state and
		// reflection; copied so the state never shares the op's bytes.
		return append(json.RawMessage(nil), raw...), nil
	}
	out, err := json.Marshal(raw) // validates as it compacts
	if err != nil {
		return nil, opErr(i, apierr.CodeInvalidOp, "%s: not a JSON value", where)
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
