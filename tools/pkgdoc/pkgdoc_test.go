package pkgdoc

import (
	"errors"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryPackageHasDoc walks the module's folders and fails naming each
// package that has no package doc comment.
func TestEveryPackageHasDoc(t *testing.T) {
	root := moduleRoot(t)
	var checked int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && skipDir(path, d.Name()) {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		name, hasDoc, ok := packageDoc(t, path)
		if !ok {
			return nil // no non-test Go files here
		}
		checked++
		if !hasDoc {
			t.Errorf("%s (package %s): got no package doc comment; want \"// Package %s ...\" above the package clause in one file", rel, name, name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if checked == 0 {
		t.Fatalf("checked no package under %s; want at least this one", root)
	}
}

// skipDir reports folders that hold no packages of this module: hidden
// and underscore folders and testdata (ignored by the go command too),
// the web UI's node_modules, and nested modules.
func skipDir(path, name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "go.mod"))
	return err == nil
}

// packageDoc parses the non-test Go files of dir that build on this
// platform and reports the package name and whether any file carries a
// package doc comment. ok is false when dir has no such file.
func packageDoc(t *testing.T, dir string) (name string, hasDoc, ok bool) {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return "", false, false
	}
	if err != nil {
		t.Errorf("%s: %v", dir, err)
		return "", false, false
	}
	files := append(append([]string{}, pkg.GoFiles...), pkg.CgoFiles...)
	if len(files) == 0 {
		return "", false, false
	}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Errorf("parse %s: %v", filepath.Join(dir, f), err)
			continue
		}
		if file.Doc != nil && strings.TrimSpace(file.Doc.Text()) != "" {
			return pkg.Name, true, true
		}
	}
	return pkg.Name, false, true
}

// moduleRoot is the folder of the go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestPackageDocDetects checks the checker on folders made for it.
func TestPackageDocDetects(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantOK  bool
		wantDoc bool
	}{
		{"documented", map[string]string{"a.go": "// Package a does a.\npackage a\n", "b.go": "package a\n"}, true, true},
		{"undocumented", map[string]string{"a.go": "package a\n", "b.go": "// not a doc comment\n\npackage a\n"}, true, false},
		{"doc only in a test file", map[string]string{"a.go": "package a\n", "a_test.go": "// Package a does a.\npackage a\n"}, true, false},
		{"tests only", map[string]string{"a_test.go": "package a\n"}, false, false},
		{"no Go files", map[string]string{"README.md": "hi\n"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, hasDoc, ok := packageDoc(t, dir)
			if ok != tt.wantOK || hasDoc != tt.wantDoc {
				t.Errorf("packageDoc: got ok=%t hasDoc=%t; want ok=%t hasDoc=%t", ok, hasDoc, tt.wantOK, tt.wantDoc)
			}
		})
	}
}
