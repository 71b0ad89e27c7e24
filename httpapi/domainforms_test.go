package httpapi

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"xmpp-invites/invites"
)

// TestFormTokensBoundToDomain: a form token made by one domain's pages is
// refused by another domain's, both ways, though both sign with the same
// key (the domains of one database share the form keys).
func TestFormTokensBoundToDomain(t *testing.T) {
	e := newAPIEnv(t, nil)
	other := invites.New(e.store.ForDomain("other.example"), invites.Config{
		Domain: "other.example", PublicURL: "https://other.example/",
		DefaultTTL: time.Hour, MaxTTL: time.Hour, ResetTTL: time.Hour, Retention: time.Hour, PasswordMinLength: 8,
	}, e.clock.Now)
	srv, err := New(Config{Version: "test"}, other, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	pa, err := newPages(e.srv)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := newPages(srv)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := pa.forms.signing(e.clock.Now()), pb.forms.signing(e.clock.Now()); string(a) != string(b) {
		t.Fatal("the domains of one database sign forms with different keys")
	}
	now := e.clock.Now()
	for _, p := range [][2]*pages{{pa, pb}, {pb, pa}} {
		x, y := p[0], p[1]
		v := x.csrfToken("login\x00same", now)
		if !x.csrfValid("login\x00same", v, now) {
			t.Fatalf("%s refuses its own form token", x.s.svc.Config().Domain)
		}
		if y.csrfValid("login\x00same", v, now) {
			t.Errorf("%s accepts a form token of %s", y.s.svc.Config().Domain, x.s.svc.Config().Domain)
		}
	}
}
