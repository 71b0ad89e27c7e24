package keystore

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xmpp-invites/internal/pgtest"
)

// The store tests run on both engines. A test that opens its store with
// openTest runs as itself on SQLite and again as TestPostgres/NAME on a
// fresh database of the package's shared PostgreSQL cluster
// (internal/pgtest): openTest tells the engine by the test's name.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// onPostgres reports whether t runs under TestPostgres.
func onPostgres(t testing.TB) bool { return strings.HasPrefix(t.Name(), "TestPostgres/") }

// testDatabase returns where t's store lives: a new SQLite file, or a new
// PostgreSQL database's URL under TestPostgres.
func testDatabase(t testing.TB) string {
	if onPostgres(t) {
		return pgtest.Shared(t).NewDatabase(t)
	}
	return filepath.Join(t.TempDir(), "test.db")
}

// instances returns the stores of two instances sharing t's database:
// on PostgreSQL s and a second handle opened on path with s's clock, as
// two serve processes would have; on SQLite, which one serve holds at a
// time, s twice. The race tests spread their goroutines over both.
func instances(t *testing.T, s *Store, c *clock, path string) [2]*Store {
	t.Helper()
	if !onPostgres(t) {
		return [2]*Store{s, s}
	}
	s2, err := Open(context.Background(), path, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("open a second handle: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	return [2]*Store{s, s2}
}

// postgresSuite lists the tests that run on PostgreSQL too.
// TestPostgresSuiteComplete keeps it in step with the tests.
var postgresSuite = []struct {
	name string
	fn   func(*testing.T)
}{
	{"TestAuthSameWork", TestAuthSameWork},
	{"TestInviteKeepsRoomsAndCircle", TestInviteKeepsRoomsAndCircle},
	{"TestCircles", TestCircles},
	{"TestKeyCacheDeletedByAnotherProcess", TestKeyCacheDeletedByAnotherProcess},
	{"TestKeyCacheRules", TestKeyCacheRules},
	{"TestInviteIDFromToken", TestInviteIDFromToken},
	{"TestNeverExpires", TestNeverExpires},
	{"TestSignInLifecycle", TestSignInLifecycle},
	{"TestSignInValidation", TestSignInValidation},
	{"TestUseSignInOnceUnderRace", TestUseSignInOnceUnderRace},
	{"TestSignInLimitUnderRace", TestSignInLimitUnderRace},
	{"TestSessions", TestSessions},
	{"TestConfirmUseRecordsAccounts", TestConfirmUseRecordsAccounts},
	{"TestResolverConfirmRecordsAccount", TestResolverConfirmRecordsAccount},
	{"TestAudit", TestAudit},
	{"TestPurgePortal", TestPurgePortal},
	{"TestPortalTokensNeverStoredInClear", TestPortalTokensNeverStoredInClear},
	{"TestListFilters", TestListFilters},
	{"TestSeed", TestSeed},
	{"TestKeyLifecycle", TestKeyLifecycle},
	{"TestInviteStatesAndRevoke", TestInviteStatesAndRevoke},
	{"TestReservationLifecycle", TestReservationLifecycle},
	{"TestLeasesAndClaims", TestLeasesAndClaims},
	{"TestLeasesAcrossInstances", TestLeasesAcrossInstances},
	{"TestGetInviteUnstorableText", TestGetInviteUnstorableText},
	{"TestReserveExactlyOnceUnderRace", TestReserveExactlyOnceUnderRace},
	{"TestConcurrentCreatesAllCommitted", TestConcurrentCreatesAllCommitted},
	{"TestLimitIsAtomic", TestLimitIsAtomic},
	{"TestLimitErrorTellsWhenASlotFrees", TestLimitErrorTellsWhenASlotFrees},
	{"TestListPagingAndAll", TestListPagingAndAll},
	{"TestDeleteKeyRevokesInvites", TestDeleteKeyRevokesInvites},
	{"TestPurge", TestPurge},
	{"TestReopenKeepsVersion", TestReopenKeepsVersion},
	{"TestPurgeInChunks", TestPurgeInChunks},
	{"TestInviteTree", TestInviteTree},
	{"TestInviteTreeLarge", TestInviteTreeLarge},
	{"TestAccount", TestAccount},
	{"TestWritableProbe", TestWritableProbe},
	{"TestFormKeys", TestFormKeys},
	{"TestDomainKeys", TestDomainKeys},
	{"TestDomainInvites", TestDomainInvites},
	{"TestDomainLimits", TestDomainLimits},
	{"TestDomainPurgeAndClaims", TestDomainPurgeAndClaims},
	{"TestDomainPortal", TestDomainPortal},
	{"TestDomainMigration", TestDomainMigration},
}

// sqliteOnly are the tests that use openTest but check what only SQLite
// has, with the reason.
var sqliteOnly = map[string]string{
	"TestBatchedInvitesWithDeletedKey": "counts the group-commit writer's batches; PostgreSQL writes run one transaction each",
	"TestNewDatabaseIdentity":          "PRAGMA application_id and user_version; TestPostgresSchema checks PostgreSQL's",
	"TestMigrationMechanism":           "PRAGMA user_version and the VACUUM INTO copy; TestPostgresMigrate checks PostgreSQL's",
	"TestQueryPlansIndexed":            "EXPLAIN QUERY PLAN is SQLite's",
	"TestQueryPlansUseIndexes":         "EXPLAIN QUERY PLAN is SQLite's",
	"TestInviteTreePlan":               "EXPLAIN QUERY PLAN is SQLite's",
	"TestSecretsNeverStoredInClear":    "reads the database file's bytes",
	"TestClassify":                     "SQLite's error codes",
}

// TestPostgres runs postgresSuite on PostgreSQL. Without PostgreSQL it is
// skipped (failed under CI=true).
func TestPostgres(t *testing.T) {
	pgtest.Shared(t)
	for _, tc := range postgresSuite {
		t.Run(tc.name, tc.fn)
	}
}

// TestPostgresSuiteComplete: every test that calls openTest is in
// postgresSuite or in sqliteOnly, so a new store test runs on both engines
// unless it says why not.
func TestPostgresSuiteComplete(t *testing.T) {
	in := map[string]bool{}
	for _, tc := range postgresSuite {
		in[tc.name] = true
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
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Body == nil {
				continue
			}
			calls := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "openTest" {
						calls = true
					}
				}
				return !calls
			})
			name := fn.Name.Name
			switch {
			case calls && !in[name] && sqliteOnly[name] == "":
				t.Errorf("%s uses openTest but is neither in postgresSuite nor in sqliteOnly", name)
			case in[name] && sqliteOnly[name] != "":
				t.Errorf("%s is in both postgresSuite and sqliteOnly", name)
			}
		}
	}
}
