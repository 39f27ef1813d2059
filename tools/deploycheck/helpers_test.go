package deploycheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/skerhq/sker/config"
)

// moduleRoot is the folder of SKER's go.mod, found upwards from the
// test's working folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// skerSettings are the environment variables SKER reads: the first field
// of each entry of the settings table in config/config.go, read from its
// source since the table is not exported. A variable a deployment file
// sets that is not here is a typo or a setting that was renamed.
func skerSettings(t *testing.T) map[string]bool {
	t.Helper()
	path := filepath.Join(moduleRoot(t), "config", "config.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "settings" || len(vs.Values) != 1 {
			return true
		}
		table, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, e := range table.Elts {
			row, ok := e.(*ast.CompositeLit)
			if !ok || len(row.Elts) == 0 {
				continue
			}
			if lit, ok := row.Elts[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names[s] = true
				}
			}
		}
		return false
	})
	// A few of the table's well-known rows: an empty or partial read of the
	// table must fail here rather than pass every name check below.
	for _, want := range []string{"DATABASE_URL", "NODE_NAME", "NATS_CLUSTER_ROUTES", "JOURNAL_REPLICAS", "LOG_FORMAT"} {
		if !names[want] {
			t.Fatalf("read %d settings from %s, without %s: the settings table changed shape", len(names), path, want)
		}
	}
	return names
}

// checkSettingNames fails for every name in env that is not a SKER
// setting; where says which file and object set it.
func checkSettingNames(t *testing.T, where string, settings map[string]bool, env map[string]string) {
	t.Helper()
	for _, name := range sortedKeys(env) {
		if !settings[name] {
			t.Errorf("%s: sets %s, which is not a SKER setting (config/config.go)", where, name)
		}
	}
}

// loadConfig runs SKER's own configuration loader on env, as `sker serve`
// would with that environment, so a value it would refuse fails here.
func loadConfig(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	cfg, rest, err := config.Load(nil, func(k string) string { return env[k] }, "")
	if err != nil {
		t.Errorf("%s: sker would refuse this configuration: %v", where, err)
	}
	if len(rest) > 0 {
		t.Errorf("%s: unexpected arguments %q", where, rest)
	}
	return cfg
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
