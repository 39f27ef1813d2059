package canvas

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/skerhq/sker/apierr"
)

// geometryValueJSON is geometryValue as it was written first, with
// json.Unmarshal: the reference that geometryValue must agree with.
func geometryValueJSON(i int, key string, raw json.RawMessage) (float64, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || !(t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
		return 0, opErr(i, apierr.CodeInvalidOp, "set.%s: want a number (or use data.<key> for data)", key)
	}
	var f float64
	if err := json.Unmarshal(t, &f); err != nil {
		return 0, opErr(i, apierr.CodeInvalidNumber, "set.%s: %s is out of range", key, t)
	}
	return f, nil
}

func checkGeometryValue(t *testing.T, raw []byte) {
	t.Helper()
	got, err := geometryValue(3, "x", raw)
	want, wantErr := geometryValueJSON(3, "x", raw)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("geometryValue(%q): got %v, %v; want %v, %v", raw, got, err, want, wantErr)
	}
	if err != nil {
		var a, b *OpError
		if !errors.As(err, &a) || !errors.As(wantErr, &b) || *a != *b {
			t.Fatalf("geometryValue(%q): got error %#v; want %#v", raw, err, wantErr)
		}
		return
	}
	if got != want || (got == 0 && (1/got > 0) != (1/want > 0)) {
		t.Fatalf("geometryValue(%q): got %v; want %v", raw, got, want)
	}
}

func TestGeometryValue(t *testing.T) {
	for _, raw := range []string{
		`0`, `-0`, `1`, `-12.5`, `1e3`, `1E+3`, `1e-3`, `0.5e-2`, ` 7 `, "\t-3\n", "\u00a07\u0085",
		`1e308`, `1e309`, `-1e400`, `1e-400`, `123456789012345678901234567890`, `4.9e-324`,
		`00`, `01`, `-`, `-a`, `1.`, `.5`, `1.e3`, `1e`, `1e+`, `1e-x`, `1ex`, `+1`, `0x10`, `1_000`,
		`1 2`, `1,`, `1]`, `"1"`, `null`, `NaN`, `-Infinity`, `inf`, ``, ` `, `1` + "\x00", "1\u2028",
	} {
		checkGeometryValue(t, []byte(raw))
	}
}

// FuzzGeometryValue: geometryValue accepts and rejects exactly what the
// json.Unmarshal version did, with the same number and the same error.
func FuzzGeometryValue(f *testing.F) {
	for _, seed := range []string{`1`, `-0.5e-3`, `1e400`, `01`, ` 2 `, `1.`, `"x"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkGeometryValue(t, raw) })
}
