package httpapi_test

import (
	"testing"

	"xmpp-invites/internal/pgtest"
)

// pagesPostgresSuite: the page tests (landing, registration, portal) that
// run on PostgreSQL too (see httpapi's postgres_test.go).
var pagesPostgresSuite = []pgtest.Test{
	{Name: "TestLandingPageStatus", Fn: TestLandingPageStatus},
	{Name: "TestLandingAccountInvite", Fn: TestLandingAccountInvite},
	{Name: "TestLandingContactInvite", Fn: TestLandingContactInvite},
	{Name: "TestLandingInviter", Fn: TestLandingInviter},
	{Name: "TestLandingNeverExpires", Fn: TestLandingNeverExpires},
	{Name: "TestLandingCacheFollowsState", Fn: TestLandingCacheFollowsState},
	{Name: "TestRegisterHappyPath", Fn: TestRegisterHappyPath},
	{Name: "TestRegisterCaseMapping", Fn: TestRegisterCaseMapping},
	{Name: "TestRegisterUsernameTaken", Fn: TestRegisterUsernameTaken},
	{Name: "TestRegisterValidation", Fn: TestRegisterValidation},
	{Name: "TestRegisterLinkDown", Fn: TestRegisterLinkDown},
	{Name: "TestRegisterInUse", Fn: TestRegisterInUse},
	{Name: "TestRegisterCSRF", Fn: TestRegisterCSRF},
	{Name: "TestRegisterConcurrentSingleUse", Fn: TestRegisterConcurrentSingleUse},
	{Name: "TestRegisterResetInvite", Fn: TestRegisterResetInvite},
	{Name: "TestRegisterFixedUsername", Fn: TestRegisterFixedUsername},
	{Name: "TestRegisterMultiUse", Fn: TestRegisterMultiUse},
	{Name: "TestRegisterContactInvite", Fn: TestRegisterContactInvite},
	{Name: "TestRegisterExpiredMidway", Fn: TestRegisterExpiredMidway},
	{Name: "TestRegisterServerError", Fn: TestRegisterServerError},
	{Name: "TestRegisterServerRefused", Fn: TestRegisterServerRefused},
	{Name: "TestRegisterResubmission", Fn: TestRegisterResubmission},
	{Name: "TestRegisterReservedUsername", Fn: TestRegisterReservedUsername},
	{Name: "TestRegisterContactURIEncoded", Fn: TestRegisterContactURIEncoded},
	{Name: "TestPagesMalformedInput", Fn: TestPagesMalformedInput},
	{Name: "TestFormFromAnotherInstance", Fn: TestFormFromAnotherInstance},
	{Name: "TestPortalSignIn", Fn: TestPortalSignIn},
	{Name: "TestPortalSignInRefusals", Fn: TestPortalSignInRefusals},
	{Name: "TestPortalSessions", Fn: TestPortalSessions},
	{Name: "TestPortalResetEndsSessions", Fn: TestPortalResetEndsSessions},
	{Name: "TestPortalMyInvites", Fn: TestPortalMyInvites},
	{Name: "TestPortalAdminForbidden", Fn: TestPortalAdminForbidden},
	{Name: "TestPortalAdmin", Fn: TestPortalAdmin},
	{Name: "TestPortalPaging", Fn: TestPortalPaging},
	{Name: "TestPortalChainLimits", Fn: TestPortalChainLimits},
	{Name: "TestPortalCircles", Fn: TestPortalCircles},
	{Name: "TestPortalNeverExpiring", Fn: TestPortalNeverExpiring},
	{Name: "TestPortalSessionsBoundToDomain", Fn: TestPortalSessionsBoundToDomain},
}

// pagesSQLiteOnly: page tests that build a store but check nothing of it,
// with the reason.
var pagesSQLiteOnly = map[string]string{
	"TestLandingQRCode":                        "the QR image only",
	"TestRegisterKeepsTypedUsername":           "the form's echo only",
	"TestRegisterClientChoice":                 "client links only",
	"TestPageHeaders":                          "headers only",
	"TestPortalSignInAnswerSame":               "the answer's text only",
	"TestPortalSignInPerClientLimit":           "the per-address limiter counts in the process",
	"TestPortalMenuAfterPost":                  "the menu only",
	"TestBrowserRegistration":                  "a browser run; TestRegisterHappyPath covers the store",
	"TestBrowserLanguages":                     "a browser run, languages only",
	"TestLanguageMenuLinksLeadToTheirLanguage": "languages only",
	"TestLanguageNegotiation":                  "languages only",
	"TestDefaultLanguage":                      "languages only",
	"TestSevenDayInviteSaysSevenDays":          "wording only",
	"TestBranding":                             "branding only",
	"TestTemplateOverrides":                    "templates only",
	"TestPageSizeBudget":                       "page sizes only",
	"TestPrefixRoutes":                         "routing under a path prefix only",
	"TestPrefixPageLinks":                      "links under a path prefix only",
	"TestStorageDiskFull":                      "SQLite's disk-full fault (keystore's fault tests cover PostgreSQL's codes)",
	"TestStorageReadOnly":                      "an SQLite file made read-only",
	"TestStorageFaultLogRateLimited":           "SQLite's disk-full fault",
	"TestAdminListener":                        "admin routes on an SQLite file's fault states",
}

// TestPostgresPages runs pagesPostgresSuite on PostgreSQL. Without
// PostgreSQL it is skipped (failed under CI=true).
func TestPostgresPages(t *testing.T) { pgtest.RunSuite(t, pagesPostgresSuite) }

func TestPostgresPagesSuiteComplete(t *testing.T) {
	pgtest.CheckSuite(t, "httpapi_test",
		[]string{"newPageEnv", "newPageEnvWith", "newPortalEnv", "newPrefixEnv", "newStorageEnv"},
		pagesPostgresSuite, pagesSQLiteOnly)
}
