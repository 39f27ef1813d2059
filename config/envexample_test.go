package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// exampleLine is a setting's line in .env.example, commented out or not.
var exampleLine = regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=(.*)$`)

// TestEnvExample: .env.example at the repository root lists every setting
// of the table once, with its default, and nothing else; uncommented, it
// loads as the defaults do.
func TestEnvExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var uncommented strings.Builder
	for line := range strings.Lines(string(raw)) {
		m := exampleLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		if _, dup := got[m[1]]; dup {
			t.Errorf(".env.example: %s twice", m[1])
		}
		got[m[1]] = m[2]
		uncommented.WriteString(m[1] + "=" + m[2] + "\n")
	}
	for _, s := range settings {
		v, ok := got[s.env]
		switch {
		case !ok:
			t.Errorf(".env.example: no %s (default %q, %s)", s.env, s.def, s.usage)
		case v != s.def:
			t.Errorf(".env.example: %s=%s; the default is %q", s.env, v, s.def)
		}
		delete(got, s.env)
	}
	for name := range got {
		t.Errorf(".env.example: %s is not a setting", name)
	}

	file := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(file, []byte(uncommented.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	fromExample, _, err := Load(nil, env(nil), file)
	if err != nil {
		t.Fatalf(".env.example uncommented: %v", err)
	}
	defaults, _, err := Load(nil, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromExample, defaults) {
		t.Errorf(".env.example uncommented:\n%+v\nwant the defaults:\n%+v", fromExample, defaults)
	}
}
