package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

func TestPortalCircles(t *testing.T) {
	e := newPortalEnv(t, pagePublic, func(c *invites.Config) {
		c.MUCDomains = []string{"conference.example.com"}
		c.MaxCircleSize = 2
	})
	b := e.browser()
	b.signIn(t, portalAdmin)
	page := b.get("/admin/circles")
	pageWantStatus(t, page, 200, "circles page")
	csrf := csrfOf(t, page)
	if rec := b.post("/admin/circles", url.Values{"csrf": {csrf}, "name": {"family"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("create circle: status %d", rec.Code)
	}
	for _, tc := range []struct {
		path, field, value string
		want               int
	}{
		{"/admin/circles", "name", "bad name", 400},
		{"/admin/circles", "name", "family", 409},
		{"/admin/circles/family/add", "jid", "alice@example.com", 303},
		{"/admin/circles/family/add", "jid", "alice@example.com", 409},
		{"/admin/circles/family/add", "jid", "eve@elsewhere.org", 400},
		{"/admin/circles/family/add", "jid", "bob@example.com", 303},
		{"/admin/circles/family/add", "jid", "carol@example.com", 409}, // full
		{"/admin/circles/nobody/add", "jid", "carol@example.com", 404},
		{"/admin/circles/family/remove", "jid", "carol@example.com", 404},
		{"/admin/circles/family/remove", "jid", "bob@example.com", 303},
	} {
		if rec := b.post(tc.path, url.Values{"csrf": {csrf}, tc.field: {tc.value}}); rec.Code != tc.want {
			t.Errorf("POST %s %s=%s: status %d, want %d", tc.path, tc.field, tc.value, rec.Code, tc.want)
		}
	}
	if got := e.link.friends; len(got) != 1 || got[0] != [2]string{"alice@example.com", "bob@example.com"} {
		t.Errorf("contacts made by the portal: %v, want alice and bob", got)
	}
	if body := b.get("/admin/circles").Body.String(); !strings.Contains(body, "alice@example.com") || strings.Contains(body, ">bob@example.com<") {
		t.Errorf("circle page does not list exactly alice:\n%s", pageText(body))
	}

	// The admin create form offers the circle and rooms.
	inv := b.get("/admin/invites")
	if body := inv.Body.String(); !strings.Contains(body, `name="rooms"`) || !strings.Contains(body, `<option value="family"`) {
		t.Fatalf("admin create form lacks rooms or the circle:\n%s", pageText(body))
	}
	form := url.Values{"csrf": {csrfOf(t, inv)}, "type": {"account"}, "uses": {"1"}, "circle": {"family"},
		"rooms": {"team@conference.example.com, news@conference.example.com"}}
	if rec := b.post("/admin/invites", form); rec.Code != 201 {
		t.Fatalf("admin create with presets: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	list, _ := e.store.ListInvites(context.Background(), keystore.ListOptions{})
	if len(list) != 1 || list[0].Circle != "family" || strings.Join(list[0].Rooms, " ") != "team@conference.example.com news@conference.example.com" {
		t.Fatalf("invite made by the form: %+v", list)
	}
	form.Set("rooms", "team@conference.elsewhere.org")
	if rec := b.post("/admin/invites", form); rec.Code != 400 || !strings.Contains(rec.Body.String(), "create-error") {
		t.Fatalf("admin create with a foreign room: status %d", rec.Code)
	}
	if rec := b.post("/admin/circles/family/delete", url.Values{"csrf": {csrf}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("delete circle: status %d", rec.Code)
	}
	if rec := b.post("/admin/circles/family/delete", url.Values{"csrf": {csrf}}); rec.Code != http.StatusNotFound {
		t.Fatalf("delete a deleted circle: status %d", rec.Code)
	}
	// People who are not admins may not use the page, nor presets on /my.
	alice := e.browser()
	alice.signIn(t, "alice@example.com")
	if rec := alice.get("/admin/circles"); rec.Code != http.StatusForbidden {
		t.Errorf("/admin/circles for a person who is not an admin: %d", rec.Code)
	}
	if _, err := e.svc.CreateFor(context.Background(), invites.Person{JID: "alice@example.com"}, invites.Request{Type: "contact", Rooms: []string{"team@conference.example.com"}}); err == nil {
		t.Error("CreateFor let a person who is not an admin set rooms")
	}
}
