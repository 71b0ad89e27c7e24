package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
)

// portalOtherDomain builds a second domain's portal on a's database (its
// own view of the store, as serve builds one per domain), at the same
// public URL so that one browser's cookies reach both, with the same
// admins (top-level admins are every domain's).
func portalOtherDomain(t *testing.T, a *pageEnv, domain string) *pageEnv {
	t.Helper()
	cfg := a.svc.Config()
	cfg.Domain = domain
	cfg.ComponentJID = "invites." + domain
	svc := invites.New(a.store.ForDomain(domain), cfg, a.clock.Now)
	b := &pageEnv{t: t, store: a.store.ForDomain(domain), svc: svc, link: newPageLink(), clock: a.clock, logs: &pageLogBuffer{}}
	var err error
	b.srv, err = httpapi.New(httpapi.Config{}, svc, b.link, slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.WithClock(a.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPortalSessionsBoundToDomain: an admin of two domains signed in on
// one domain's portal is not signed in on the other's, both ways (SPEC §6:
// sessions are bound to their domain). Sign-in links are checked in the
// store (keystore.TestDomainPortal).
func TestPortalSessionsBoundToDomain(t *testing.T) {
	a := newPortalEnv(t, pagePublic)
	b := portalOtherDomain(t, a, "b.example")
	envs := [2]*pageEnv{a, b}
	for i := range envs {
		x, y := envs[i], envs[1-i]
		bx := x.browser()
		bx.signIn(t, portalAdmin)
		if rec := bx.get(bx.prefix + "/my"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), portalAdmin) {
			t.Fatalf("%s: own /my after signing in: %d", x.svc.Config().Domain, rec.Code)
		}
		// The same browser (cookies) on the other domain's portal.
		by := &browser{e: y, cookies: bx.cookies, prefix: bx.prefix}
		if rec := by.get(by.prefix + "/my"); rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), portalAdmin) {
			t.Errorf("a session of %s signs in on %s's portal", x.svc.Config().Domain, y.svc.Config().Domain)
		}
	}
}
