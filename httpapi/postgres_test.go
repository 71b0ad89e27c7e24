package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xmpp-invites/internal/pgtest"
)

// The API and page tests run on SQLite, and the ones named in the suites
// below again as TestPostgresAPI/NAME and TestPostgresPages/NAME on a fresh
// database of the test binary's shared PostgreSQL cluster: the env
// builders take their store from StoreDatabase, which tells the engine by
// the test's name.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// StoreDatabase returns where t's store lives: a new SQLite file, or a new
// PostgreSQL database's URL under TestPostgresAPI or TestPostgresPages.
func StoreDatabase(t testing.TB) string {
	if strings.HasPrefix(t.Name(), "TestPostgresAPI/") || strings.HasPrefix(t.Name(), "TestPostgresPages/") {
		return pgtest.Shared(t).NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "db")
}

// PostgresTest is a test that reruns on PostgreSQL.
type PostgresTest struct {
	Name string
	Fn   func(*testing.T)
}

// apiPostgresSuite: the tests of this package that run on PostgreSQL too.
var apiPostgresSuite = []PostgresTest{
	{"TestInvitesAPICreate", TestInvitesAPICreate},
	{"TestInvitesAPIMethods", TestInvitesAPIMethods},
	{"TestBadKeysAllLookAlike", TestBadKeysAllLookAlike},
	{"TestDeletedKeyRefusedAtOnce", TestDeletedKeyRefusedAtOnce},
	{"TestKeyQuota", TestKeyQuota},
	{"TestAPIv1Create", TestAPIv1Create},
	{"TestAPIv1ListPagination", TestAPIv1ListPagination},
	{"TestAPIv1ShowAndRevoke", TestAPIv1ShowAndRevoke},
	{"TestAPIv1Scopes", TestAPIv1Scopes},
	{"TestAPIv1Routing", TestAPIv1Routing},
	{"TestConcurrentCreates", TestConcurrentCreates},
	{"TestMalformedInputsNever5xx", TestMalformedInputsNever5xx},
	{"TestLogsHoldNoSecrets", TestLogsHoldNoSecrets},
	{"TestKeyDeletedByCLIProcess", TestKeyDeletedByCLIProcess},
	{"TestResetOfAdminRefused", TestResetOfAdminRefused},
	{"TestCirclesAPI", TestCirclesAPI},
	{"TestFormTokensBoundToDomain", TestFormTokensBoundToDomain},
	{"TestAPIRefusesControlText", TestAPIRefusesControlText},
	{"TestAPIJSONStrict", TestAPIJSONStrict},
	{"TestContactURIEncoded", TestContactURIEncoded},
	{"TestAPINeverExpiring", TestAPINeverExpiring},
	{"TestAPINeverExpiringOff", TestAPINeverExpiringOff},
	{"TestCreateReservedUsernameIs400", TestCreateReservedUsernameIs400},
}

// apiSQLiteOnly: tests of this package that build an env but check
// nothing of the store, with the reason.
var apiSQLiteOnly = map[string]string{
	"TestFailedAuthRateLimit":     "the failed-authentication limiter counts in the process",
	"TestRateLimitGroupsIPv6By64": "the failed-authentication limiter counts in the process",
	"TestRateLimitForwardedFor":   "the failed-authentication limiter counts in the process",
	"TestCORS":                    "headers only",
	"TestHealthRoutesUntouched":   "health routes read no records",
	"TestRouteSegments":           "routing only",
	"TestUntrustedProxyWarning":   "a log line at start",
}

// TestPostgresAPI runs apiPostgresSuite on PostgreSQL. Without PostgreSQL
// it is skipped (failed under CI=true).
func TestPostgresAPI(t *testing.T) {
	pgtest.Shared(t)
	for _, tc := range apiPostgresSuite {
		t.Run(tc.Name, tc.Fn)
	}
}

func TestPostgresAPISuiteComplete(t *testing.T) {
	CheckPostgresSuite(t, "httpapi", []string{"newAPIEnv", "newNeverAPIEnv"}, apiPostgresSuite, apiSQLiteOnly)
}

// CheckPostgresSuite fails t for every test of package pkg (in this
// directory's test files) that calls one of builders but is neither in
// suite nor in sqliteOnly with a reason, so a new test runs on both
// engines unless it says why not.
func CheckPostgresSuite(t *testing.T, pkg string, builders []string, suite []PostgresTest, sqliteOnly map[string]string) {
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
				t.Errorf("%s builds a store but is neither in the PostgreSQL suite nor SQLite-only with a reason", name)
			case in[name] && sqliteOnly[name] != "":
				t.Errorf("%s is both in the PostgreSQL suite and SQLite-only", name)
			}
		}
	}
}
