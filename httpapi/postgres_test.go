package httpapi

import (
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

// apiPostgresSuite: the tests of this package that run on PostgreSQL too.
var apiPostgresSuite = []pgtest.Test{
	{Name: "TestInvitesAPICreate", Fn: TestInvitesAPICreate},
	{Name: "TestInvitesAPIMethods", Fn: TestInvitesAPIMethods},
	{Name: "TestBadKeysAllLookAlike", Fn: TestBadKeysAllLookAlike},
	{Name: "TestDeletedKeyRefusedAtOnce", Fn: TestDeletedKeyRefusedAtOnce},
	{Name: "TestKeyQuota", Fn: TestKeyQuota},
	{Name: "TestAPIv1Create", Fn: TestAPIv1Create},
	{Name: "TestAPIv1ListPagination", Fn: TestAPIv1ListPagination},
	{Name: "TestAPIv1ShowAndRevoke", Fn: TestAPIv1ShowAndRevoke},
	{Name: "TestAPIv1Scopes", Fn: TestAPIv1Scopes},
	{Name: "TestAPIv1Routing", Fn: TestAPIv1Routing},
	{Name: "TestConcurrentCreates", Fn: TestConcurrentCreates},
	{Name: "TestMalformedInputsNever5xx", Fn: TestMalformedInputsNever5xx},
	{Name: "TestLogsHoldNoSecrets", Fn: TestLogsHoldNoSecrets},
	{Name: "TestKeyDeletedByCLIProcess", Fn: TestKeyDeletedByCLIProcess},
	{Name: "TestResetOfAdminRefused", Fn: TestResetOfAdminRefused},
	{Name: "TestCirclesAPI", Fn: TestCirclesAPI},
	{Name: "TestFormTokensBoundToDomain", Fn: TestFormTokensBoundToDomain},
	{Name: "TestAPIRefusesControlText", Fn: TestAPIRefusesControlText},
	{Name: "TestAPIJSONStrict", Fn: TestAPIJSONStrict},
	{Name: "TestContactURIEncoded", Fn: TestContactURIEncoded},
	{Name: "TestAPINeverExpiring", Fn: TestAPINeverExpiring},
	{Name: "TestAPINeverExpiringOff", Fn: TestAPINeverExpiringOff},
	{Name: "TestCreateReservedUsernameIs400", Fn: TestCreateReservedUsernameIs400},
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
func TestPostgresAPI(t *testing.T) { pgtest.RunSuite(t, apiPostgresSuite) }

func TestPostgresAPISuiteComplete(t *testing.T) {
	pgtest.CheckSuite(t, "httpapi", []string{"newAPIEnv", "newNeverAPIEnv"}, apiPostgresSuite, apiSQLiteOnly)
}
