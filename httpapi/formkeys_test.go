package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
)

// TestFormFromAnotherInstance: a registration form rendered by one server
// posts to another on the same database (they share nothing else), also
// across a rotation of the form keys; not to another domain's server.
func TestFormFromAnotherInstance(t *testing.T) {
	a := newPageEnv(t, pagePublic)
	b, err := httpapi.New(httpapi.Config{}, a.svc, a.link, slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.WithClock(a.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	postTo := func(srv http.Handler, token, csrf, user string) int {
		const pw = "tr0ub4dor&3-horse"
		form := url.Values{"csrf": {csrf}, "user": {user}, "password": {pw}, "password_confirm": {pw}}
		req := httptest.NewRequest(http.MethodPost, "/register?t="+url.QueryEscape(token), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code
	}
	c := a.invite(invites.Request{Creator: "xmpp:admin@example.com", Uses: 5})
	forged := a.csrf(c.Token)
	forged = forged[:len(forged)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(forged, "AA")]
	if code := postTo(b, c.Token, forged, "mallory"); code != http.StatusForbidden {
		t.Errorf("forged form token: %d, want 403", code)
	}
	if code := postTo(b, c.Token, a.csrf(c.Token), "bob"); code != http.StatusOK {
		t.Fatalf("form from instance a posted to b: %d, want 200", code)
	}
	// A day on: the keys rotate. A form from before, and forms from
	// either side of the new key's start, post to the other instance.
	early := a.csrf(c.Token)
	a.clock.Add(25 * time.Hour)
	during := a.csrf(c.Token) // made the new key, which does not sign yet
	a.clock.Add(10 * time.Minute)
	after := a.csrf(c.Token) // signed with the new key
	if after == during {
		t.Fatal("same token twice")
	}
	if code := postTo(b, c.Token, during, "carol"); code != http.StatusOK {
		t.Errorf("form signed before the new key started, posted to b: %d", code)
	}
	if code := postTo(b, c.Token, after, "dave"); code != http.StatusOK {
		t.Errorf("form signed with the new key, posted to b: %d", code)
	}
	if code := postTo(b, c.Token, early, "erin"); code != http.StatusForbidden {
		t.Errorf("form older than its maximum age: %d, want 403", code)
	}
	// The keys are shared by every domain on the database; a form stays
	// bound to its own.
	icfg := a.svc.Config()
	icfg.Domain = "other.example"
	otherDomain, err := httpapi.New(httpapi.Config{}, invites.New(a.store, icfg, a.clock.Now), a.link,
		slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.WithClock(a.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if code := postTo(otherDomain, c.Token, a.csrf(c.Token), "frank"); code != http.StatusForbidden {
		t.Errorf("form of one domain posted to another domain's server: %d, want 403", code)
	}
	if got := a.link.createdAccounts(); len(got) != 3 {
		t.Errorf("accounts created: %v, want bob, carol, dave", got)
	}
}
