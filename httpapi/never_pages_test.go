package httpapi_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

func allowNever(c *invites.Config) { c.AllowNeverExpiring = true }

// TestLandingNeverExpires: the landing page of an invite that never
// expires says so instead of "Valid until" a date in year 9999.
func TestLandingNeverExpires(t *testing.T) {
	e, err := newPageEnvWith(t, pagePublic, httpapi.Config{}, allowNever)
	if err != nil {
		t.Fatal(err)
	}
	c := e.invite(invites.Request{Never: true, Uses: 2})
	rec := e.get("/invite?" + c.Token)
	pageWantStatus(t, rec, 200, "landing page")
	text := pageText(rec.Body.String())
	if !strings.Contains(text, "This invite does not expire.") || strings.Contains(text, "Valid until") || strings.Contains(rec.Body.String(), "9999") {
		t.Errorf("landing page of an invite that never expires:\n%s", text)
	}
	dated := e.invite(invites.Request{})
	if text := pageText(e.get("/invite?" + dated.Token).Body.String()); !strings.Contains(text, "Valid until") || strings.Contains(text, "does not expire") {
		t.Errorf("landing page of an invite that expires:\n%s", text)
	}
}

var neverOptionRe = regexp.MustCompile(`<option value="never"[^>]*>`)

// TestPortalNeverExpiring: the create forms offer "Never" to admins where
// allow_never_expiring is on, and to no one else; such invites are listed
// as never expiring.
func TestPortalNeverExpiring(t *testing.T) {
	e := newPortalEnv(t, pagePublic, allowNever, func(c *invites.Config) { c.AllowUserInvites = true })
	admin := e.browser()
	admin.signIn(t, portalAdmin)
	page := admin.get("/admin/invites")
	if !neverOptionRe.MatchString(page.Body.String()) {
		t.Fatalf("/admin/invites does not offer never:\n%s", page.Body.String())
	}
	if !neverOptionRe.MatchString(admin.get("/my").Body.String()) {
		t.Errorf("/my of an admin does not offer never")
	}
	csrf := csrfOf(t, page)
	rec := admin.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"account"}, "ttl": {"never"}, "uses": {"3"}})
	pageWantStatus(t, rec, http.StatusCreated, "never-expiring invite by an admin")
	if text := pageText(rec.Body.String()); !strings.Contains(text, "It works 3 times and does not expire.") || strings.Contains(text, "9999") {
		t.Errorf("created page:\n%s", text)
	}
	m := linkFieldRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no link on the created page")
	}
	inv, err := e.store.InviteByToken(context.Background(), strings.TrimPrefix(html.UnescapeString(m[1]), pagePublic+"/invite?"))
	if err != nil || !inv.NeverExpires() {
		t.Fatalf("stored %+v, %v; want an invite that never expires", inv, err)
	}
	// A reset never is.
	if rec := admin.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"reset"}, "username": {"alice"}, "ttl": {"never"}, "uses": {"1"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("never-expiring reset: status %d", rec.Code)
	}
	list := admin.get("/admin/invites").Body.String()
	row := regexp.MustCompile(`(?s)<tr id="invite-` + inv.ID + `">.*?</tr>`).FindString(list)
	if !strings.Contains(row, "<td>never</td>") || strings.Contains(list, "9999") {
		t.Errorf("admin list row of an invite that never expires: %s", row)
	}

	// An ordinary user is not offered never and cannot post it.
	user := e.browser()
	user.signIn(t, "alice@example.com")
	my := user.get("/my")
	if neverOptionRe.MatchString(my.Body.String()) {
		t.Errorf("/my of a user offers never")
	}
	rec = user.post("/my/invites", url.Values{"csrf": {csrfOf(t, my)}, "type": {"account"}, "ttl": {"never"}, "uses": {"1"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(pageText(rec.Body.String()), "Choose a validity from the list.") {
		t.Errorf("never by a user: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	if n, _ := e.store.CountInvites(context.Background(), "xmpp:alice@example.com", e.clock.Now().AddDate(-1, 0, 0)); n != 0 {
		t.Errorf("the user's refused request stored %d invites", n)
	}

	// Where the option is off, admins are not offered never either.
	off := newPortalEnv(t, pagePublic)
	b := off.browser()
	b.signIn(t, portalAdmin)
	page = b.get("/admin/invites")
	if neverOptionRe.MatchString(page.Body.String()) {
		t.Errorf("never offered while allow_never_expiring is off")
	}
	if rec := b.post("/admin/invites", url.Values{"csrf": {csrfOf(t, page)}, "type": {"account"}, "ttl": {"never"}, "uses": {"1"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("never while off: status %d", rec.Code)
	}
	if list, _ := off.store.ListInvites(context.Background(), keystore.ListOptions{All: true}); len(list) != 0 {
		t.Errorf("refused requests stored %d invites", len(list))
	}
}
