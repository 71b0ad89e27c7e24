package pgtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Test is a test of a package that runs again on PostgreSQL, as a subtest
// of the package's suite test.
type Test struct {
	Name string
	Fn   func(*testing.T)
}

// RunSuite runs every test of suite as a subtest of t, on the test binary's
// shared cluster: the tests' store builders see "TestSuite/NAME" as their
// name and take a fresh PostgreSQL database. Without PostgreSQL t is
// skipped (failed under CI=true).
func RunSuite(t *testing.T, suite []Test) {
	t.Helper()
	Shared(t)
	for _, tc := range suite {
		t.Run(tc.Name, tc.Fn)
	}
}

// CheckSuite fails t for every test of package pkg (in the test files of
// the current directory) that calls one of builders but is neither in
// suite nor in sqliteOnly with a reason, or is in both: so a new test runs
// on both engines unless it says why not.
func CheckSuite(t *testing.T, pkg string, builders []string, suite []Test, sqliteOnly map[string]string) {
	t.Helper()
	in := map[string]bool{}
	for _, tc := range suite {
		in[tc.Name] = true
	}
	build := map[string]bool{}
	for _, b := range builders {
		build[b] = true
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != pkg {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Body == nil {
				continue
			}
			calls := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && build[id.Name] {
						calls = true
					}
				}
				return !calls
			})
			name := fn.Name.Name
			switch {
			case calls && !in[name] && sqliteOnly[name] == "":
				t.Errorf("%s builds a store (%s) but is neither in the PostgreSQL suite nor SQLite-only with a reason", name, strings.Join(builders, ", "))
			case in[name] && sqliteOnly[name] != "":
				t.Errorf("%s is both in the PostgreSQL suite and SQLite-only", name)
			}
		}
	}
}
