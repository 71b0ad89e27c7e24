package keystore

import (
	"context"
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
var postgresSuite = []pgtest.Test{
	{Name: "TestAuthSameWork", Fn: TestAuthSameWork},
	{Name: "TestInviteKeepsRoomsAndCircle", Fn: TestInviteKeepsRoomsAndCircle},
	{Name: "TestCircles", Fn: TestCircles},
	{Name: "TestKeyCacheDeletedByAnotherProcess", Fn: TestKeyCacheDeletedByAnotherProcess},
	{Name: "TestKeyCacheRules", Fn: TestKeyCacheRules},
	{Name: "TestInviteIDFromToken", Fn: TestInviteIDFromToken},
	{Name: "TestNeverExpires", Fn: TestNeverExpires},
	{Name: "TestSignInLifecycle", Fn: TestSignInLifecycle},
	{Name: "TestSignInValidation", Fn: TestSignInValidation},
	{Name: "TestUseSignInOnceUnderRace", Fn: TestUseSignInOnceUnderRace},
	{Name: "TestSignInLimitUnderRace", Fn: TestSignInLimitUnderRace},
	{Name: "TestSessions", Fn: TestSessions},
	{Name: "TestConfirmUseRecordsAccounts", Fn: TestConfirmUseRecordsAccounts},
	{Name: "TestResolverConfirmRecordsAccount", Fn: TestResolverConfirmRecordsAccount},
	{Name: "TestAudit", Fn: TestAudit},
	{Name: "TestPurgePortal", Fn: TestPurgePortal},
	{Name: "TestPortalTokensNeverStoredInClear", Fn: TestPortalTokensNeverStoredInClear},
	{Name: "TestListFilters", Fn: TestListFilters},
	{Name: "TestSeed", Fn: TestSeed},
	{Name: "TestKeyLifecycle", Fn: TestKeyLifecycle},
	{Name: "TestInviteStatesAndRevoke", Fn: TestInviteStatesAndRevoke},
	{Name: "TestReservationLifecycle", Fn: TestReservationLifecycle},
	{Name: "TestLeasesAndClaims", Fn: TestLeasesAndClaims},
	{Name: "TestLeasesAcrossInstances", Fn: TestLeasesAcrossInstances},
	{Name: "TestGetInviteUnstorableText", Fn: TestGetInviteUnstorableText},
	{Name: "TestReserveExactlyOnceUnderRace", Fn: TestReserveExactlyOnceUnderRace},
	{Name: "TestConcurrentCreatesAllCommitted", Fn: TestConcurrentCreatesAllCommitted},
	{Name: "TestLimitIsAtomic", Fn: TestLimitIsAtomic},
	{Name: "TestLimitErrorTellsWhenASlotFrees", Fn: TestLimitErrorTellsWhenASlotFrees},
	{Name: "TestListPagingAndAll", Fn: TestListPagingAndAll},
	{Name: "TestDeleteKeyRevokesInvites", Fn: TestDeleteKeyRevokesInvites},
	{Name: "TestPurge", Fn: TestPurge},
	{Name: "TestReopenKeepsVersion", Fn: TestReopenKeepsVersion},
	{Name: "TestPurgeInChunks", Fn: TestPurgeInChunks},
	{Name: "TestInviteTree", Fn: TestInviteTree},
	{Name: "TestInviteTreeLarge", Fn: TestInviteTreeLarge},
	{Name: "TestAccount", Fn: TestAccount},
	{Name: "TestWritableProbe", Fn: TestWritableProbe},
	{Name: "TestFormKeys", Fn: TestFormKeys},
	{Name: "TestDomainKeys", Fn: TestDomainKeys},
	{Name: "TestDomainInvites", Fn: TestDomainInvites},
	{Name: "TestDomainLimits", Fn: TestDomainLimits},
	{Name: "TestDomainPurgeAndClaims", Fn: TestDomainPurgeAndClaims},
	{Name: "TestDomainPortal", Fn: TestDomainPortal},
	{Name: "TestDomainMigration", Fn: TestDomainMigration},
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
func TestPostgres(t *testing.T) { pgtest.RunSuite(t, postgresSuite) }

// TestPostgresSuiteComplete: every test that calls openTest is in
// postgresSuite or in sqliteOnly, so a new store test runs on both engines
// unless it says why not.
func TestPostgresSuiteComplete(t *testing.T) {
	pgtest.CheckSuite(t, "keystore", []string{"openTest"}, postgresSuite, sqliteOnly)
}
