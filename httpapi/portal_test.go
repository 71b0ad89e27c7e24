package httpapi_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

const (
	portalAdmin = "boss@example.com"
	portalComp  = "invites.example.com"
)

// newPortalEnv is a page environment with an admin and a component
// address; mods change the invite rules further.
func newPortalEnv(t *testing.T, publicURL string, mods ...func(*invites.Config)) *pageEnv {
	t.Helper()
	mods = append([]func(*invites.Config){func(c *invites.Config) {
		c.Admins = []string{portalAdmin, "ops@elsewhere.example"}
		c.ComponentJID = portalComp
	}}, mods...)
	e, err := newPageEnvWith(t, publicURL, httpapi.Config{}, mods...)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return e
}

// browser keeps cookies between requests, as a browser does (one site).
type browser struct {
	e       *pageEnv
	cookies map[string]*http.Cookie
	prefix  string // public_url's path
}

func (e *pageEnv) browser() *browser {
	u, _ := url.Parse(e.svc.Config().PublicURL)
	return &browser{e: e, cookies: map[string]*http.Cookie{}, prefix: u.Path}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := b.e.do(req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

func (b *browser) get(target string) *httptest.ResponseRecorder {
	return b.do(httptest.NewRequest(http.MethodGet, target, nil))
}

func (b *browser) post(target string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// csrfOf returns the first form token of a page.
func csrfOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := pageCSRFRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no csrf field in page (status %d):\n%s", rec.Code, pageText(rec.Body.String()))
	}
	return html.UnescapeString(m[1])
}

// askLink asks for a sign-in link for address and returns the link sent.
func (b *browser) askLink(t *testing.T, address string) string {
	t.Helper()
	before := len(b.e.link.sentSignIns())
	form := b.get(b.prefix + "/login")
	pageWantStatus(t, form, 200, "GET /login")
	rec := b.post(b.prefix+"/login", url.Values{"csrf": {csrfOf(t, form)}, "address": {address}})
	pageWantStatus(t, rec, 200, "POST /login")
	sent := b.e.link.sentSignIns()
	if len(sent) != before+1 {
		t.Fatalf("%d sign-in links sent, want %d", len(sent), before+1)
	}
	return sent[len(sent)-1].link
}

// localTarget turns a link under the public URL into a request target.
func (e *pageEnv) localTarget(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// signIn signs b in as address through the link flow.
func (b *browser) signIn(t *testing.T, address string) {
	t.Helper()
	target := b.e.localTarget(t, b.askLink(t, address))
	page := b.get(target)
	pageWantStatus(t, page, 200, "GET sign-in link")
	rec := b.post(target, url.Values{"csrf": {csrfOf(t, page)}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST sign-in link: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	if b.cookies["session"] == nil {
		t.Fatal("no session cookie after signing in")
	}
}

func TestPortalSignIn(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	b := e.browser()
	link := b.askLink(t, "Alice@Example.com")
	sent := e.link.sentSignIns()[0]
	if sent.to != "alice@example.com" || !strings.HasPrefix(link, pagePublic+"/login/confirm?") || sent.from == "" {
		t.Fatalf("sent %+v: want to alice@example.com, a link under /login/confirm and the client address", sent)
	}
	if c := b.cookies["signin"]; c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("pre-sign-in cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/", c)
	}
	target := e.localTarget(t, link)

	// Opening the link (a preview, a scanner, the person) uses nothing up.
	for i := 0; i < 2; i++ {
		page := b.get(target)
		pageWantStatus(t, page, 200, "GET link")
		if text := pageText(page.Body.String()); !strings.Contains(text, "Sign in as alice@example.com?") {
			t.Fatalf("confirmation page: %s", text)
		}
		if page.Header().Get("Set-Cookie") != "" && strings.Contains(page.Header().Get("Set-Cookie"), "session=") {
			t.Fatal("GET of a sign-in link set a session")
		}
	}
	page := b.get(target)
	csrf := csrfOf(t, page)

	// Another browser (no pre-sign-in cookie) cannot use a bound link, and
	// that leaves it usable.
	other := e.browser()
	if rec := other.post(target, url.Values{"csrf": {csrf}}); rec.Code != http.StatusForbidden || other.cookies["session"] != nil {
		t.Fatalf("bound link from another browser: status %d, session %v", rec.Code, other.cookies["session"] != nil)
	}
	// A cross-site POST is refused.
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if rec := b.do(req); rec.Code != http.StatusForbidden || b.cookies["session"] != nil {
		t.Fatalf("cross-site POST: status %d", rec.Code)
	}

	rec := b.post(target, url.Values{"csrf": {csrf}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != pagePublic+"/my" {
		t.Fatalf("sign in: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	c := b.cookies["session"]
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != int(invites.SessionMaxAge/time.Second) {
		t.Fatalf("session cookie %+v", c)
	}
	if rec := b.post(target, url.Values{"csrf": {csrf}}); rec.Code != http.StatusNotFound {
		t.Errorf("second use of the link: status %d, want 404", rec.Code)
	}
	my := b.get("/my")
	pageWantStatus(t, my, 200, "GET /my")
	if text := pageText(my.Body.String()); !strings.Contains(text, "Signed in as alice@example.com") {
		t.Errorf("/my: %s", text)
	}
	// Not an admin: no admin tabs, and 403 on /admin.
	if strings.Contains(my.Body.String(), "/admin/keys") {
		t.Error("a person who is not an admin sees the admin tabs")
	}
}

// TestPortalSignInAnswerSame: the answer to POST /login does not tell
// whether the account exists (the service cannot know, and says so).
func TestPortalSignInAnswerSame(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	e.link.accounts["alice"] = "x"
	texts := map[string]string{}
	for _, who := range []string{"alice", "nobody"} {
		b := e.browser()
		form := b.get("/login")
		rec := b.post("/login", url.Values{"csrf": {csrfOf(t, form)}, "address": {who + "@example.com"}})
		pageWantStatus(t, rec, 200, who)
		texts[who] = strings.ReplaceAll(pageText(rec.Body.String()), who+"@", "X@")
	}
	if texts["alice"] != texts["nobody"] {
		t.Errorf("answers differ:\n%s\n%s", texts["alice"], texts["nobody"])
	}
	if !strings.Contains(texts["alice"], "send “login” to "+portalComp) && !strings.Contains(texts["alice"], "Send “login” to "+portalComp) {
		t.Errorf("the answer does not say to send login to the component: %s", texts["alice"])
	}
}

func TestPortalSignInRefusals(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	b := e.browser()
	form := b.get("/login")
	csrf := csrfOf(t, form)
	for _, tc := range []struct{ address, want string }{
		{"someone@other.example", "Only accounts of example.com"},
		{"not an address", "Enter your full address"},
		{"example.com", "Enter your full address"},
		{"alice@example.com/phone", "Enter your full address"},
		{strings.Repeat("a", 4000) + "@example.com", "Enter your full address"},
	} {
		rec := b.post("/login", url.Values{"csrf": {csrf}, "address": {tc.address}})
		if rec.Code != http.StatusBadRequest || !strings.Contains(pageText(rec.Body.String()), tc.want) {
			t.Errorf("%.40q: status %d, want 400 with %q:\n%s", tc.address, rec.Code, tc.want, pageText(rec.Body.String()))
		}
	}
	// An admin of another domain may sign in.
	if rec := b.post("/login", url.Values{"csrf": {csrf}, "address": {"ops@elsewhere.example"}}); rec.Code != 200 {
		t.Errorf("admin of another domain: status %d", rec.Code)
	}
	// No form token, or one for another browser: nothing sent.
	n := len(e.link.sentSignIns())
	if rec := b.post("/login", url.Values{"address": {"alice@example.com"}}); rec.Code != http.StatusForbidden {
		t.Errorf("no csrf: status %d", rec.Code)
	}
	if rec := e.browser().post("/login", url.Values{"csrf": {csrf}, "address": {"alice@example.com"}}); rec.Code != http.StatusForbidden {
		t.Errorf("csrf of another browser: status %d", rec.Code)
	}
	// A few links an hour per address, whoever asks.
	for i := 0; i < invites.SignInsPerHour; i++ {
		if rec := e.browser().post("/login", url.Values{"csrf": {csrfOf(t, b.get("/login"))}, "address": {"carol@example.com"}}); rec.Code != 200 && rec.Code != 403 {
			t.Fatalf("link %d: status %d", i, rec.Code)
		}
	}
	for i := 0; i < invites.SignInsPerHour; i++ {
		b.post("/login", url.Values{"csrf": {csrfOf(t, b.get("/login"))}, "address": {"dave@example.com"}})
	}
	rec := b.post("/login", url.Values{"csrf": {csrfOf(t, b.get("/login"))}, "address": {"dave@example.com"}})
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(pageText(rec.Body.String()), "Several sign-in links were sent to dave@example.com") {
		t.Errorf("over the per-address limit: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	got := 0
	for _, s := range e.link.sentSignIns()[n:] {
		if s.to == "dave@example.com" {
			got++
		}
	}
	if got != invites.SignInsPerHour {
		t.Errorf("%d links sent to dave, want %d", got, invites.SignInsPerHour)
	}
	// The link down: nothing can be sent, and the page says so.
	e.link.setState("down")
	if rec := b.post("/login", url.Values{"csrf": {csrfOf(t, b.get("/login"))}, "address": {"erin@example.com"}}); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("link down: status %d", rec.Code)
	}
}

func TestPortalSignInPerClientLimit(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	b := e.browser()
	var last *httptest.ResponseRecorder
	for i := 0; i < 25; i++ {
		last = b.post("/login", url.Values{"csrf": {csrfOf(t, b.get("/login"))}, "address": {"u" + string(rune('a'+i)) + "@example.com"}})
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" {
		t.Errorf("25th request from one client: status %d, Retry-After %q", last.Code, last.Header().Get("Retry-After"))
	}
	if n := len(e.link.sentSignIns()); n != 20 {
		t.Errorf("%d links sent, want 20", n)
	}
}

func TestPortalSessions(t *testing.T) {
	e := newPortalEnv(t, pagePublic+"/join")
	b1, b2 := e.browser(), e.browser()
	b1.signIn(t, "alice@example.com")
	b2.signIn(t, "alice@example.com")
	if c := b1.cookies["session"]; c.Path != "/join/" {
		t.Errorf("session cookie Path %q, want /join/", c.Path)
	}
	// Sign out: this browser only.
	my := b1.get("/join/my")
	if rec := b1.post("/join/logout", url.Values{"csrf": {csrfOf(t, my)}}); rec.Code != 200 || b1.cookies["session"] != nil {
		t.Fatalf("sign out: status %d", rec.Code)
	}
	if rec := b1.get("/join/my"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != pagePublic+"/join/login" {
		t.Errorf("after signing out: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	pageWantStatus(t, b2.get("/join/my"), 200, "the other browser after one signed out")
	// Sign out everywhere.
	b1.signIn(t, "alice@example.com")
	my = b2.get("/join/my")
	if rec := b2.post("/join/logout", url.Values{"csrf": {csrfOf(t, my)}, "everywhere": {"1"}}); rec.Code != 200 {
		t.Fatalf("sign out everywhere: status %d", rec.Code)
	}
	if rec := b1.get("/join/my"); rec.Code != http.StatusSeeOther {
		t.Errorf("another browser after sign out everywhere: status %d", rec.Code)
	}
	// Idle for more than 12 hours: signed out.
	b1.signIn(t, "alice@example.com")
	e.clock.Add(invites.SessionIdle + time.Minute)
	if rec := b1.get("/join/my"); rec.Code != http.StatusSeeOther {
		t.Errorf("after 12 h idle: status %d", rec.Code)
	}
	// Active, but 7 days old: signed out.
	b1.signIn(t, "alice@example.com")
	for i := 0; i < 16; i++ {
		e.clock.Add(11 * time.Hour)
		b1.get("/join/my")
	}
	if rec := b1.get("/join/my"); rec.Code != http.StatusSeeOther {
		t.Errorf("after 7 days: status %d", rec.Code)
	}
	// A POST without a session changes nothing and says so.
	if rec := b1.post("/join/my/invites", url.Values{"type": {"contact"}}); rec.Code != http.StatusForbidden {
		t.Errorf("POST without a session: status %d", rec.Code)
	}
}

// TestPortalResetEndsSessions: a password reset ends every session of the
// account.
func TestPortalResetEndsSessions(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	e.link.accounts["alice"] = "old"
	b := e.browser()
	b.signIn(t, "alice@example.com")
	c := e.invite(invites.Request{Type: keystore.TypeReset, Username: "alice"})
	if rec := e.register(c.Token, "", "a new password", "a new password"); rec.Code != 200 {
		t.Fatalf("reset: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	if rec := b.get("/my"); rec.Code != http.StatusSeeOther {
		t.Errorf("after a reset of the account: status %d, want a redirect to /login", rec.Code)
	}
}

var linkFieldRe = regexp.MustCompile(`id="link" type="text" readonly value="([^"]+)"`)

func TestPortalMyInvites(t *testing.T) {
	e := newPortalEnv(t, pagePublic, func(c *invites.Config) { c.UserInvitesPerDay = 2 })
	b := e.browser()
	b.signIn(t, "alice@example.com")
	my := b.get("/my")
	csrf := csrfOf(t, my)
	if strings.Contains(my.Body.String(), `<option value="account"`) {
		t.Error("account invites offered while users may not invite")
	}
	rec := b.post("/my/invites", url.Values{"csrf": {csrf}, "type": {"contact"}, "ttl": {"7d"}, "uses": {"1"}, "note": {"for Bob"}})
	pageWantStatus(t, rec, http.StatusCreated, "create contact invite")
	m := linkFieldRe.FindStringSubmatch(rec.Body.String())
	if m == nil || !strings.Contains(rec.Body.String(), "<svg") {
		t.Fatalf("created page lacks the link field or the QR code:\n%s", pageText(rec.Body.String()))
	}
	landing := html.UnescapeString(m[1])
	token := strings.TrimPrefix(landing, pagePublic+"/invite?")
	inv, err := e.store.InviteByToken(context.Background(), token)
	if err != nil || inv.Type != keystore.TypeContact || inv.Username != "alice" || inv.Creator != "xmpp:alice@example.com" || inv.Note != "for Bob" || inv.AllowRegister {
		t.Fatalf("stored invite %+v, %v", inv, err)
	}
	// Account invites are not allowed here; the quota holds.
	rec = b.post("/my/invites", url.Values{"csrf": {csrf}, "type": {"account"}, "ttl": {"7d"}, "uses": {"1"}})
	if rec.Code != http.StatusBadRequest {
		t.Errorf("account invite by a user: status %d", rec.Code)
	}
	pageWantStatus(t, b.post("/my/invites", url.Values{"csrf": {csrf}, "type": {"contact"}, "ttl": {"1d"}, "uses": {"1"}}), 201, "second invite")
	rec = b.post("/my/invites", url.Values{"csrf": {csrf}, "type": {"contact"}, "ttl": {"1d"}, "uses": {"1"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(pageText(rec.Body.String()), "your limit") {
		t.Errorf("over the daily quota: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	// Bad values change nothing.
	for _, f := range []url.Values{
		{"csrf": {csrf}, "type": {"contact"}, "ttl": {"999d"}, "uses": {"1"}},
		{"csrf": {csrf}, "type": {"contact"}, "ttl": {"7d"}, "uses": {"0"}},
		{"csrf": {csrf}, "type": {"contact"}, "ttl": {"7d"}, "uses": {"x"}},
		{"csrf": {csrf}, "type": {"reset"}, "ttl": {"7d"}, "uses": {"1"}},
		{"csrf": {csrf}, "type": {"contact"}, "ttl": {"7d"}, "uses": {"1"}, "note": {"bad\u202enote"}},
	} {
		if rec := b.post("/my/invites", f); rec.Code != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400", f, rec.Code)
		}
	}
	// Someone used the first invite (made contacts from their own
	// account): /my says who.
	res, err := e.store.ReserveUse(context.Background(), token, keystore.Hold{JID: "bob@example.com", Owner: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.ConfirmUse(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	text := pageText(b.get("/my").Body.String())
	if !strings.Contains(text, "Used") || !strings.Contains(text, "bob@example.com") {
		t.Errorf("/my does not show the use:\n%s", text)
	}
	// Revoke: own invites only.
	others := e.invite(invites.Request{Type: keystore.TypeContact, Username: "zed", Creator: "xmpp:zed@example.com"})
	if rec := b.post("/my/invites/"+others.Invite.ID+"/revoke", url.Values{"csrf": {csrf}}); rec.Code != http.StatusNotFound {
		t.Errorf("revoking someone else's invite: status %d", rec.Code)
	}
	if got, _ := e.store.GetInvite(context.Background(), others.Invite.ID); !got.Revoked.IsZero() {
		t.Error("someone else's invite was revoked")
	}
	list, _ := e.store.ListInvites(context.Background(), keystore.ListOptions{Creator: "xmpp:alice@example.com"})
	if len(list) != 1 {
		t.Fatalf("%d pending invites of alice, want 1", len(list))
	}
	if rec := b.post("/my/invites/"+list[0].ID+"/revoke", url.Values{"csrf": {csrf}}); rec.Code != http.StatusSeeOther {
		t.Errorf("revoke own invite: status %d", rec.Code)
	}
	if got, _ := e.store.GetInvite(context.Background(), list[0].ID); got.Revoked.IsZero() {
		t.Error("own invite not revoked")
	}
}

// adminURLs are every /admin route, with a method.
var adminURLs = [][2]string{
	{"GET", "/admin"}, {"GET", "/admin/invites"}, {"POST", "/admin/invites"}, {"POST", "/admin/invites/AAAAAAAA/revoke"},
	{"GET", "/admin/keys"}, {"POST", "/admin/keys"}, {"POST", "/admin/keys/AAAAAAAAAAAA/delete"},
	{"GET", "/admin/registrations"}, {"POST", "/admin/registrations/forget"}, {"GET", "/admin/audit"},
	{"GET", "/admin/audit.csv"}, {"GET", "/admin/anything"},
}

func TestPortalAdminForbidden(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	b := e.browser()
	b.signIn(t, "alice@example.com")
	csrf := csrfOf(t, b.get("/my"))
	for _, u := range adminURLs {
		var rec *httptest.ResponseRecorder
		if u[0] == "GET" {
			rec = b.get(u[1])
		} else {
			rec = b.post(u[1], url.Values{"csrf": {csrf}, "type": {"account"}, "uses": {"1"}, "name": {"x"}, "scope": {"create"}})
		}
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as a person who is not an admin: status %d, want 403", u[0], u[1], rec.Code)
		}
	}
	if keys, _ := e.store.ListKeys(context.Background()); len(keys) != 0 {
		t.Error("a key was created")
	}
	// Signed out: GET goes to /login, POST is refused.
	anon := e.browser()
	for _, u := range adminURLs {
		if u[0] == "GET" {
			if rec := anon.get(u[1]); rec.Code != http.StatusSeeOther {
				t.Errorf("GET %s signed out: status %d", u[1], rec.Code)
			}
		} else if rec := anon.post(u[1], url.Values{}); rec.Code != http.StatusForbidden {
			t.Errorf("POST %s signed out: status %d", u[1], rec.Code)
		}
	}
}

var credentialRe = regexp.MustCompile(`id="credential" type="text" readonly value="([^"]+)"`)

func TestPortalAdmin(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	e.link.accounts["alice"] = "x"
	e.link.accounts["boss"] = "x"
	b := e.browser()
	b.signIn(t, portalAdmin)
	page := b.get("/admin/invites")
	pageWantStatus(t, page, 200, "/admin/invites")
	csrf := csrfOf(t, page)

	// Create: an account invite with two uses; a reset of an admin is refused.
	pageWantStatus(t, b.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"account"}, "ttl": {"7d"}, "uses": {"2"}, "note": {"team"}}), 201, "account invite")
	if rec := b.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"reset"}, "username": {"boss"}, "ttl": {"1d"}, "uses": {"1"}}); rec.Code != 400 || !strings.Contains(pageText(rec.Body.String()), "command line") {
		t.Errorf("reset of an admin: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	if rec := b.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"reset"}, "username": {"ghost"}, "ttl": {"1d"}, "uses": {"1"}}); rec.Code != 400 || !strings.Contains(pageText(rec.Body.String()), "no account ghost@example.com") {
		t.Errorf("reset of a missing account: status %d\n%s", rec.Code, pageText(rec.Body.String()))
	}
	pageWantStatus(t, b.post("/admin/invites", url.Values{"csrf": {csrf}, "type": {"reset"}, "username": {"alice"}, "ttl": {"1d"}, "uses": {"1"}}), 201, "reset invite")
	other := e.invite(invites.Request{Creator: "cli"})

	// Filters.
	for _, tc := range []struct {
		query string
		want  int
	}{{"", 3}, {"?type=reset", 1}, {"?type=account", 2}, {"?creator=" + portalAdmin, 2}, {"?creator=cli", 1}, {"?state=revoked", 0}, {"?state=bogus&type=bogus", 3}} {
		body := b.get("/admin/invites" + tc.query).Body.String()
		if n := strings.Count(body, `<tr id="invite-`); n != tc.want {
			t.Errorf("/admin/invites%s: %d rows, want %d", tc.query, n, tc.want)
		}
	}
	// Revoke anyone's invite.
	if rec := b.post("/admin/invites/"+other.Invite.ID+"/revoke", url.Values{"csrf": {csrf}}); rec.Code != http.StatusSeeOther {
		t.Errorf("admin revoke: status %d", rec.Code)
	}
	if n := strings.Count(b.get("/admin/invites?state=revoked").Body.String(), `<tr id="invite-`); n != 1 {
		t.Errorf("%d revoked invites listed, want 1", n)
	}

	// Keys: the credential is shown once and works; delete with revoke.
	keys := b.get("/admin/keys")
	rec := b.post("/admin/keys", url.Values{"csrf": {csrfOf(t, keys)}, "name": {"website"}, "label": {"Our website"}, "scope": {"create"}, "days": {"30"}, "quota": {"10"}})
	pageWantStatus(t, rec, 201, "create key")
	m := credentialRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no credential shown:\n%s", pageText(rec.Body.String()))
	}
	cred := html.UnescapeString(m[1])
	k, err := e.store.Authenticate(context.Background(), cred)
	if err != nil || k.Name != "website" || k.Label != "Our website" || k.Quota != 10 || k.Expires.IsZero() {
		t.Fatalf("key %+v, %v", k, err)
	}
	secret := cred[strings.IndexByte(cred, '/')+1:]
	if strings.Contains(b.get("/admin/keys").Body.String(), secret) {
		t.Error("the key list shows the secret again")
	}
	for _, f := range []url.Values{{"name": {""}, "scope": {"create"}}, {"name": {"x"}, "scope": {"root"}}, {"name": {"x"}, "scope": {"create"}, "days": {"-1"}}, {"name": {"x"}, "scope": {"create"}, "quota": {"lots"}}} {
		f.Set("csrf", csrfOf(t, keys))
		if rec := b.post("/admin/keys", f); rec.Code != 400 {
			t.Errorf("key form %v: status %d, want 400", f, rec.Code)
		}
	}
	byKey := e.invite(invites.Request{Creator: k.Creator()})
	if rec := b.post("/admin/keys/"+k.ID+"/delete", url.Values{"csrf": {csrf}, "revoke": {"1"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("delete key: status %d", rec.Code)
	}
	if inv, _ := e.store.GetInvite(context.Background(), byKey.Invite.ID); inv.Revoked.IsZero() {
		t.Error("the deleted key's invite was not revoked")
	}
	if rec := b.post("/admin/keys/"+k.ID+"/delete", url.Values{"csrf": {csrf}}); rec.Code != http.StatusNotFound {
		t.Errorf("deleting a deleted key: status %d", rec.Code)
	}

	// Registrations: who joined, through which invite and whose.
	c := e.invite(invites.Request{Creator: "xmpp:" + portalAdmin})
	if rec := e.register(c.Token, "newbie", "correct horse", "correct horse"); rec.Code != 200 {
		t.Fatalf("register: %d", rec.Code)
	}
	text := pageText(b.get("/admin/registrations").Body.String())
	if !strings.Contains(text, "newbie@example.com") || !strings.Contains(text, c.Invite.ID) || !strings.Contains(text, "xmpp:"+portalAdmin) {
		t.Errorf("registrations page:\n%s", text)
	}
	if rec := b.post("/admin/registrations/forget", url.Values{"csrf": {csrf}, "jid": {"newbie@example.com"}}); rec.Code != http.StatusSeeOther {
		t.Errorf("forget: status %d", rec.Code)
	}
	if strings.Contains(b.get("/admin/registrations").Body.String(), "newbie@example.com") {
		t.Error("a forgotten registration is still listed")
	}

	// Audit log: every action above, and a CSV whose formula cells are
	// neutralised.
	audit := pageText(b.get("/admin/audit").Body.String())
	for _, want := range []string{"invite.create", "invite.revoke", "key.create", "key.delete", "registration.forget"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	if err := e.store.Audit(context.Background(), "=HYPERLINK(\"http://x\")", "+cmd", "-x", "@y"); err != nil {
		t.Fatal(err)
	}
	csvRec := b.get("/admin/audit.csv")
	if ct := csvRec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV Content-Type %q", ct)
	}
	body := csvRec.Body.String()
	for _, want := range []string{`"'=HYPERLINK(""http://x"")"`, "'+cmd", "'-x", "'@y", "key.create"} {
		if !strings.Contains(body, want) {
			t.Errorf("CSV lacks %s:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		for _, cell := range strings.Split(line, ",") {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("CSV cell %q starts with a formula character", cell)
			}
		}
	}
}

// TestPortalMenuAfterPost: the language menu of a page answering a form
// leads to a page that answers GET, in that language.
func TestPortalMenuAfterPost(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	b := e.browser()
	b.signIn(t, portalAdmin)
	csrf := csrfOf(t, b.get("/my"))
	for _, tc := range []struct{ target, want string }{
		{"/my/invites", pagePublic + "/my?lang=ja"},
		{"/admin/invites", pagePublic + "/admin/invites?lang=ja"},
		{"/admin/keys", pagePublic + "/admin/keys?lang=ja"},
		{"/logout", pagePublic + "/login?lang=ja"},
	} {
		rec := b.post(tc.target, url.Values{"csrf": {csrf}, "type": {"account"}, "ttl": {"1d"}, "uses": {"1"}, "name": {"k"}, "scope": {"create"}})
		links := menuLink.FindAllStringSubmatch(rec.Body.String(), -1)
		found := false
		for _, m := range links {
			if html.UnescapeString(m[1]) == tc.want {
				found = true
			}
		}
		if !found {
			t.Errorf("POST %s (status %d): no menu link %s in %v", tc.target, rec.Code, tc.want, links[:1])
			continue
		}
		// Following it answers (in Japanese), then back to English.
		if rec := b.get(strings.TrimPrefix(tc.want, pagePublic)); rec.Code != 200 && rec.Code != http.StatusSeeOther {
			t.Errorf("GET %s: status %d", tc.want, rec.Code)
		}
		b.get("/login?lang=en")
	}
}

var nextRe = regexp.MustCompile(`<a href="([^"]+)" id="next">`)

// TestPortalPaging walks the admin list 50 invites at a time, newest
// first, keeping the filter.
func TestPortalPaging(t *testing.T) {
	e := newPortalEnv(t, pagePublic)
	for i := 0; i < 120; i++ {
		e.invite(invites.Request{})
	}
	e.invite(invites.Request{Type: keystore.TypeReset, Username: "x"})
	b := e.browser()
	b.signIn(t, portalAdmin)
	target, seen := "/admin/invites?type=account", map[string]bool{}
	var pages []int
	for target != "" {
		body := b.get(target).Body.String()
		ids := regexp.MustCompile(`<tr id="invite-([^"]+)">`).FindAllStringSubmatch(body, -1)
		pages = append(pages, len(ids))
		for _, m := range ids {
			if seen[m[1]] {
				t.Fatalf("invite %s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		target = ""
		if m := nextRe.FindStringSubmatch(body); m != nil {
			next := html.UnescapeString(m[1])
			if !strings.Contains(next, "type=account") {
				t.Fatalf("next page %s drops the filter", next)
			}
			target = strings.TrimPrefix(next, pagePublic)
		}
	}
	if len(pages) != 3 || pages[0] != 50 || pages[1] != 50 || pages[2] != 20 {
		t.Errorf("pages of %v invites, want 50, 50, 20", pages)
	}
}
