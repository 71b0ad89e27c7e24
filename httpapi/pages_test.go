package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rsc.io/qr"

	"xmpp-invites/httpapi"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
	"xmpp-invites/metrics"
)

// pageClock is a settable clock shared by the store, the service and the
// server.
type pageClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *pageClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *pageClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// pageLink stands in for the XMPP server behind the component: it keeps
// accounts in memory and can be told to fail or to be slow.
type pageLink struct {
	mu         sync.Mutex
	state      string
	accounts   map[string]string // username → password
	created    []string          // CreateAccount calls that created an account
	changed    []string          // ChangePassword calls, by username
	createErr  error             // returned by CreateAccount when set
	delay      time.Duration     // before CreateAccount answers
	friendErr  error             // returned by AddMutualContacts
	friends    [][2]string
	notified   []string
	existsCall int
	signIns    []sentSignIn
}

func newPageLink() *pageLink {
	return &pageLink{state: "up", accounts: map[string]string{}}
}

func (f *pageLink) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *pageLink) setState(s string) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
}

func (f *pageLink) CreateAccount(ctx context.Context, username, password string) error {
	f.mu.Lock()
	delay, cerr := f.delay, f.createErr
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if cerr != nil {
		return cerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[username]; ok {
		return invites.ErrUsernameTaken
	}
	f.accounts[username] = password
	f.created = append(f.created, username)
	return nil
}

func (f *pageLink) ChangePassword(ctx context.Context, username, password string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[username] = password
	f.changed = append(f.changed, username)
	return nil
}

func (f *pageLink) AccountExists(ctx context.Context, username string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.existsCall++
	_, ok := f.accounts[username]
	return ok, nil
}

func (f *pageLink) AddMutualContacts(ctx context.Context, a, b string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.friendErr != nil {
		return f.friendErr
	}
	f.friends = append(f.friends, [2]string{a, b})
	return nil
}

func (f *pageLink) NotifyJoined(ctx context.Context, to, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notified = append(f.notified, to+": "+account)
	return nil
}

// sentSignIn is a sign-in link the portal had sent.
type sentSignIn struct{ to, lang, link, from string }

func (f *pageLink) SendSignIn(ctx context.Context, to, lang, link, from string, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signIns = append(f.signIns, sentSignIn{to, lang, link, from})
	return nil
}

func (f *pageLink) sentSignIns() []sentSignIn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentSignIn(nil), f.signIns...)
}

func (f *pageLink) createdAccounts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.created...)
}

// pageLogBuffer collects log output from concurrent handlers.
type pageLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *pageLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *pageLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pageEnv is a server on a real temporary store with a fake link.
type pageEnv struct {
	t       *testing.T
	store   *keystore.Store
	svc     *invites.Service
	link    *pageLink
	clock   *pageClock
	srv     *httpapi.Server
	logs    *pageLogBuffer
	metrics *metrics.Metrics
}

const (
	pageDomain = "example.com"
	pageSite   = "Example Chat"
	pagePublic = "https://chat.example.com"
)

func newPageEnv(t *testing.T, publicURL string) *pageEnv {
	t.Helper()
	e, err := newPageEnvWith(t, publicURL, httpapi.Config{})
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	return e
}

// newPageEnvWith is newPageEnv with a Config, returning httpapi.New's error.
func newPageEnvWith(t *testing.T, publicURL string, cfg httpapi.Config, mods ...func(*invites.Config)) (*pageEnv, error) {
	t.Helper()
	clock := &pageClock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	store, err := keystore.Open(context.Background(), httpapi.StoreDatabase(t), keystore.Options{Now: clock.Now, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	icfg := invites.Config{
		Domain: pageDomain, PublicURL: publicURL, SiteName: pageSite,
		DefaultTTL: 7 * 24 * time.Hour, MaxTTL: 30 * 24 * time.Hour, ResetTTL: 24 * time.Hour,
		Retention: 30 * 24 * time.Hour, PasswordMinLength: 8, UserInvitesPerDay: 10,
	}
	for _, m := range mods {
		m(&icfg)
	}
	svc := invites.New(store, icfg, clock.Now)
	e := &pageEnv{t: t, store: store, svc: svc, link: newPageLink(), clock: clock, logs: &pageLogBuffer{}, metrics: metrics.New()}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv, err = httpapi.New(cfg, svc, e.link, log, httpapi.WithClock(clock.Now), httpapi.WithMetrics(e.metrics))
	return e, err
}

func (e *pageEnv) invite(r invites.Request) invites.Created {
	e.t.Helper()
	if r.Creator == "" {
		r.Creator = "cli"
	}
	c, err := e.svc.Create(context.Background(), r)
	if err != nil {
		e.t.Fatalf("create invite %+v: %v", r, err)
	}
	return c
}

func (e *pageEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func (e *pageEnv) get(target string) *httptest.ResponseRecorder {
	return e.do(httptest.NewRequest(http.MethodGet, target, nil))
}

func (e *pageEnv) postForm(token string, form url.Values, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/register?t="+url.QueryEscape(token), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

var pageCSRFRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf fetches the registration form and returns its signed token.
func (e *pageEnv) csrf(token string) string {
	e.t.Helper()
	rec := e.get("/register?t=" + url.QueryEscape(token))
	m := pageCSRFRe.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		e.t.Fatalf("GET register form: status %d, csrf field found: %v", rec.Code, m != nil)
	}
	return html.UnescapeString(m[1])
}

// register submits the form as a browser would after loading it.
func (e *pageEnv) register(token, user, password, confirm string) *httptest.ResponseRecorder {
	e.t.Helper()
	form := url.Values{"csrf": {e.csrf(token)}, "user": {user}, "password": {password}, "password_confirm": {confirm}}
	return e.postForm(token, form, nil)
}

func (e *pageEnv) uses(id string) int {
	e.t.Helper()
	inv, err := e.store.GetInvite(context.Background(), id)
	if err != nil {
		e.t.Fatalf("get invite %s: %v", id, err)
	}
	return inv.Uses
}

// pageWantStatus fails with the page's text when the status is not want.
func pageWantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, rec.Code, want, pageText(rec.Body.String()))
	}
}

var pageTagRe = regexp.MustCompile(`(?s)<style>.*?</style>|<svg.*?</svg>|<[^>]+>`)

// pageText is a page's visible text, for failure messages and checks that
// must not depend on markup.
func pageText(body string) string {
	return strings.Join(strings.Fields(html.UnescapeString(pageTagRe.ReplaceAllString(body, " "))), " ")
}

func TestLandingPageStatus(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	valid := e.invite(invites.Request{})
	expired := e.invite(invites.Request{TTL: time.Hour})
	used := e.invite(invites.Request{})
	revoked := e.invite(invites.Request{})
	if rec := e.register(used.Token, "olduser", "correct horse", "correct horse"); rec.Code != http.StatusOK {
		t.Fatalf("using an invite: status %d", rec.Code)
	}
	if _, err := e.store.RevokeInvite(context.Background(), revoked.Invite.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Hour)

	for _, tc := range []struct {
		name, target string
		status       int
		text         string
	}{
		{"valid", "/invite?" + valid.Token, 200, "invited to join " + pageSite},
		{"valid path form", "/invite/" + valid.Token, 200, "invited to join " + pageSite},
		{"valid t= form", "/invite?t=" + valid.Token, 200, "invited to join " + pageSite},
		{"unknown", "/invite?" + strings.Repeat("A", keystore.TokenLen), 404, "Invite not found"},
		{"garbage", "/invite?x", 404, "Invite not found"},
		{"empty", "/invite", 404, "Invite not found"},
		{"invite ID is not a token", "/invite?" + valid.Invite.ID, 404, "Invite not found"},
		{"expired", "/invite?" + expired.Token, 410, "This invite has expired"},
		{"used", "/invite?" + used.Token, 410, "already been used"},
		{"revoked", "/invite?" + revoked.Token, 410, "was withdrawn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.get(tc.target)
			pageWantStatus(t, rec, tc.status, "GET "+tc.name)
			if text := pageText(rec.Body.String()); !strings.Contains(text, tc.text) {
				t.Errorf("page lacks %q:\n%s", tc.text, text)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestLandingAccountInvite(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	rec := e.get("/invite?" + c.Token)
	pageWantStatus(t, rec, 200, "landing")
	body := rec.Body.String()

	if strings.Contains(body, "register;preauth") || strings.Contains(body, "preauth") {
		t.Error("account invite page offers the register;preauth URI to apps")
	}
	if l := rec.Header().Values("Link"); len(l) != 0 {
		t.Errorf("account invite sends Link %q", l)
	}
	wantHref := `href="` + html.EscapeString(e.svc.RegisterURL(c.Token)) + `"`
	if !strings.Contains(body, wantHref) {
		t.Errorf("no link to web registration %s", wantHref)
	}
	if !strings.Contains(body, `<svg class="qr"`) || !strings.Contains(body, `<path fill="#000" d="M`) {
		t.Error("no inline QR code SVG")
	}
	text := pageText(body)
	for _, want := range []string{
		"Invited by the " + pageSite + " admins", "Valid until 9 March 2026, 12:00 UTC", "in 7 days",
		"Android", "iOS", "macOS", "Windows", "Linux",
		"Conversations", "F-Droid", "Monal", "Siskin IM", "Beagle IM", "Gajim", "Dino",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("landing page lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(body, `href="https://f-droid.org/packages/eu.siacs.conversations/"`) {
		t.Error("no download link for Conversations on F-Droid")
	}
	// Platforms are grouped in a fixed order, the visitor's first.
	if a, i, l := strings.Index(text, "Android"), strings.Index(text, "iOS"), strings.Index(text, "Linux"); !(a < i && i < l) {
		t.Errorf("platforms out of order: Android@%d iOS@%d Linux@%d", a, i, l)
	}
	req := httptest.NewRequest("GET", "/invite?"+c.Token, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
	text = pageText(e.do(req).Body.String())
	if i, a := strings.Index(text, "iOS your device"), strings.Index(text, "Android"); i < 0 || i > a {
		t.Errorf("an iPhone does not see iOS apps first:\n%s", text)
	}
}

func TestLandingQRCode(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	body := e.get("/invite?" + c.Token).Body.String()
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"[^>]*><rect[^>]*/><path fill="#000" d="([^"]+)"/></svg>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no QR code SVG of the expected shape")
	}
	if strings.Count(body, "<rect") > 1 {
		t.Error("QR code drawn with one element per module; want one path")
	}
	code, err := qr.Encode(e.svc.LandingURL(c.Token), qr.M)
	if err != nil {
		t.Fatal(err)
	}
	const quiet = 4
	if n, _ := strconv.Atoi(m[1]); n != code.Size+2*quiet {
		t.Fatalf("viewBox %s, want %d (code %d + quiet zone)", m[1], code.Size+2*quiet, code.Size)
	}
	// Paint the path's runs and compare with the code module by module.
	got := make([][]bool, code.Size+2*quiet)
	for i := range got {
		got[i] = make([]bool, code.Size+2*quiet)
	}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(m[3], -1)
	if joined := len(strings.Join(func() []string {
		var s []string
		for _, r := range runs {
			s = append(s, r[0])
		}
		return s
	}(), "")); joined != len(m[3]) {
		t.Fatalf("path has parts that are not runs: %d of %d bytes parsed", joined, len(m[3]))
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for i := 0; i < w; i++ {
			got[y][x+i] = true
		}
	}
	for y := range got {
		for x := range got[y] {
			if want := code.Black(x-quiet, y-quiet); got[y][x] != want {
				t.Fatalf("module (%d,%d): dark=%v, want %v", x-quiet, y-quiet, got[y][x], want)
			}
		}
	}
}

func TestLandingContactInvite(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{Type: keystore.TypeContact, Username: "alice", Creator: "xmpp:alice@example.com", AllowRegister: true})
	rec := e.get("/invite?" + c.Token)
	pageWantStatus(t, rec, 200, "contact landing")
	uri := e.svc.URI(c.Invite, c.Token)
	if !strings.HasPrefix(uri, "xmpp:alice@example.com?roster;preauth="+c.Token) {
		t.Fatalf("unexpected roster URI %q", uri)
	}
	if got, want := rec.Header().Get("Link"), "<"+uri+`>; rel="alternate"`; got != want {
		t.Errorf("Link %q, want %q", got, want)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `id="add-contact" href="`+uri+`"`) {
		t.Errorf("no add-in-your-app button with href %s", uri)
	}
	if !strings.Contains(body, `href="`+html.EscapeString(e.svc.RegisterURL(c.Token))+`"`) {
		t.Error("contact invite that allows registration has no link to web registration")
	}
	if strings.Contains(body, "register;preauth") {
		t.Error("contact invite page offers a register URI")
	}
	text := pageText(body)
	for _, want := range []string{"alice@example.com invited you to chat", "Invited by alice@example.com", "Already on XMPP?", "New to XMPP?"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, text)
		}
	}

	// Without ;ibr=y the page offers only the app, and registration refuses.
	only := e.invite(invites.Request{Type: keystore.TypeContact, Username: "alice", Creator: "xmpp:alice@example.com"})
	rec = e.get("/invite/" + only.Token)
	pageWantStatus(t, rec, 200, "contact-only landing")
	if strings.Contains(rec.Body.String(), "/register?") {
		t.Error("contact invite without registration links to registration")
	}
	pageWantStatus(t, e.get("/register?t="+only.Token), 403, "register with a contact-only invite")
	rec = e.postForm(only.Token, url.Values{"user": {"x"}, "password": {"long enough pw"}, "password_confirm": {"long enough pw"}}, nil)
	pageWantStatus(t, rec, 403, "POST register with a contact-only invite")
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("accounts created: %v", got)
	}
}

func TestLandingInviter(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	ctx := context.Background()
	named, _, err := e.store.CreateKey(ctx, keystore.KeyParams{Name: "billing-webhook-prod", Label: "Community onboarding", Scope: keystore.ScopeCreate})
	if err != nil {
		t.Fatal(err)
	}
	nameless, _, err := e.store.CreateKey(ctx, keystore.KeyParams{Name: "private-name", Scope: keystore.ScopeCreate})
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := e.store.CreateKey(ctx, keystore.KeyParams{Name: "Deleted since", Scope: keystore.ScopeCreate})
	if err != nil {
		t.Fatal(err)
	}
	manage, _, err := e.store.CreateKey(ctx, keystore.KeyParams{Name: "ops-manage", Label: "Operator admin", Scope: keystore.ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	// A contact invite names only the contact, whoever minted it.
	contact := e.invite(invites.Request{Type: keystore.TypeContact, Username: "carol", Creator: manage.Creator(), AllowRegister: true})
	text := pageText(e.get("/invite?" + contact.Token).Body.String())
	if !strings.Contains(text, "Invited by carol@example.com") || strings.Contains(text, "Operator admin") || strings.Contains(text, "ops-manage") {
		t.Errorf("contact invite's page should name only carol@example.com:\n%s", text)
	}
	for _, tc := range []struct {
		creator, want string
		deleteKey     bool // delete the key once the invite exists
	}{
		{"xmpp:bob@example.com", "Invited by bob@example.com", false},
		{named.Creator(), "Invited by Community onboarding", false},
		{nameless.Creator(), "Invited by " + pageSite, false},
		{gone.Creator(), "Invited by " + pageSite, true},
		{"cli", "Invited by the " + pageSite + " admins", false},
	} {
		t.Run(tc.creator, func(t *testing.T) {
			c := e.invite(invites.Request{Creator: tc.creator})
			if tc.deleteKey {
				if _, err := e.store.DeleteKey(ctx, strings.TrimPrefix(tc.creator, "key:"), false); err != nil {
					t.Fatal(err)
				}
			}
			rec := e.get("/invite?" + c.Token)
			pageWantStatus(t, rec, 200, "landing")
			text := pageText(rec.Body.String())
			if !strings.Contains(text, tc.want) {
				t.Errorf("page lacks %q:\n%s", tc.want, text)
			}
			if strings.Contains(text, "billing-webhook-prod") || strings.Contains(text, "private-name") {
				t.Errorf("page shows a key's private name:\n%s", text)
			}
		})
	}
}

func TestRegisterHappyPath(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{Creator: "xmpp:admin@example.com"})

	rec := e.get("/register?t=" + c.Token)
	pageWantStatus(t, rec, 200, "GET form")
	form := rec.Body.String()
	for _, want := range []string{`name="csrf"`, `name="user"`, `name="password"`, `name="password_confirm"`, `autocomplete="new-password"`, `<form method="post"`} {
		if !strings.Contains(form, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Count(form, `autocomplete="new-password"`) != 2 {
		t.Error("both password fields should have autocomplete=new-password")
	}

	const pw = "tr0ub4dor&3-horse"
	secondTab := e.csrf(c.Token)
	rec = e.register(c.Token, "bob", pw, pw)
	pageWantStatus(t, rec, 200, "POST form")
	body := rec.Body.String()
	if !strings.Contains(body, "bob@example.com") {
		t.Error("success page does not name the JID")
	}
	if strings.Contains(body, pw) || strings.Contains(body, html.EscapeString(pw)) {
		t.Error("success page echoes the password")
	}
	text := pageText(body)
	for _, want := range []string{"Welcome to " + pageSite, "Log in with your address bob@example.com and the password you chose", "Get an app"} {
		if !strings.Contains(text, want) {
			t.Errorf("success page lacks %q:\n%s", want, text)
		}
	}
	if got := e.link.createdAccounts(); len(got) != 1 || got[0] != "bob" || e.link.accounts["bob"] != pw {
		t.Errorf("accounts created: %v, want [bob] with the password", got)
	}
	if n := e.uses(c.Invite.ID); n != 1 {
		t.Errorf("invite uses %d, want 1", n)
	}
	pageWantStatus(t, e.get("/invite?"+c.Token), 410, "landing after use")
	pageWantStatus(t, e.get("/register?t="+c.Token), 410, "form after use")
	rec = e.postForm(c.Token, url.Values{"csrf": {secondTab}, "user": {"carol"}, "password": {pw}, "password_confirm": {pw}}, nil)
	pageWantStatus(t, rec, 410, "POST from a form loaded before the use")

	// The inviter learns about it; logs name the invite and JID only.
	if len(e.link.notified) != 1 || !strings.HasPrefix(e.link.notified[0], "admin@example.com: bob@example.com") {
		t.Errorf("notifications %q", e.link.notified)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "invite="+c.Invite.ID) || !strings.Contains(logs, "jid=bob@example.com") {
		t.Errorf("redemption not logged with invite ID and JID:\n%s", logs)
	}
	if strings.Contains(logs, c.Token) || strings.Contains(logs, pw) {
		t.Errorf("logs contain the token or the password:\n%s", logs)
	}
	mrec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(mrec.Body.String(), `xmpp_invites_invites_used_total{domain="example.com",type="account"} 1`) {
		t.Error("use not counted in xmpp_invites_invites_used_total")
	}
}

func TestRegisterCaseMapping(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	// A failed attempt keeps what was typed and says what it becomes.
	rec := e.register(c.Token, "Alice", "short", "short")
	pageWantStatus(t, rec, 422, "weak password")
	if !strings.Contains(rec.Body.String(), `value="Alice"`) || !strings.Contains(pageText(rec.Body.String()), "yours will be alice") {
		t.Errorf("form does not keep Alice and explain alice:\n%s", pageText(rec.Body.String()))
	}
	rec = e.register(c.Token, "Alice", "wonderland-42", "wonderland-42")
	pageWantStatus(t, rec, 200, "register Alice")
	text := pageText(rec.Body.String())
	if !strings.Contains(text, "alice@example.com") || !strings.Contains(text, "You typed Alice") {
		t.Errorf("success page does not explain Alice → alice:\n%s", text)
	}
	if got := e.link.createdAccounts(); len(got) != 1 || got[0] != "alice" {
		t.Errorf("created %v, want [alice]", got)
	}
}

func TestRegisterUsernameTaken(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.accounts["bob"] = "theirs"
	c := e.invite(invites.Request{})
	rec := e.register(c.Token, "Bob", "a good password", "a good password")
	pageWantStatus(t, rec, 409, "taken username")
	if text := pageText(rec.Body.String()); !strings.Contains(text, `The username bob is already taken`) {
		t.Errorf("no clear message:\n%s", text)
	}
	if strings.Contains(rec.Body.String(), "a good password") {
		t.Error("form echoes the password")
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d after a taken username, want 0", n)
	}
	pageWantStatus(t, e.get("/invite?"+c.Token), 200, "landing after a taken username")
	pageWantStatus(t, e.register(c.Token, "bobby", "a good password", "a good password"), 200, "second try")
	if e.link.accounts["bob"] != "theirs" {
		t.Error("existing account changed")
	}
}

func TestRegisterValidation(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	long := strings.Repeat("p", invites.MaxPasswordLen+1)
	for _, tc := range []struct {
		name, user, pw, confirm, msg string
	}{
		{"short password", "bob", "short1", "short1", "The password must be at least 8 characters long"},
		{"mismatch", "bob", "password one", "password two", "The two passwords differ"},
		{"contains username", "bob", "xxBOBxx-secret", "xxBOBxx-secret", "The password must not contain the username"},
		{"contains mapped username", "Carol", "my carol pass", "my carol pass", "The password must not contain the username"},
		{"too long password", "bob", long, long, "at most 1023 bytes"},
		{"empty username", "", "a fine password", "a fine password", "Please choose a username"},
		{"blank username", "   ", "a fine password", "a fine password", "Please choose a username"},
		{"bad characters", "bob@evil", "a fine password", "a fine password", "This username contains characters that are not allowed"},
		{"space inside", "bo b", "a fine password", "a fine password", "This username contains characters that are not allowed"},
		{"65 bytes", strings.Repeat("u", 65), "a fine password", "a fine password", "too long: at most 64 bytes"},
		{"invalid UTF-8", "bob\xff", "a fine password", "a fine password", "Username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.register(c.Token, tc.user, tc.pw, tc.confirm)
			pageWantStatus(t, rec, 422, tc.name)
			body := rec.Body.String()
			if text := pageText(body); !strings.Contains(text, tc.msg) {
				t.Errorf("page lacks %q:\n%s", tc.msg, text)
			}
			if strings.Contains(body, `id="form-error"`) == false {
				t.Error("no error box")
			}
			if strings.Contains(body, tc.pw) || strings.Contains(body, tc.confirm) {
				t.Error("form echoes a password")
			}
			if tc.user == "bob" && !strings.Contains(body, `value="bob"`) {
				t.Error("form does not keep the username")
			}
			if !strings.Contains(body, `name="csrf"`) {
				t.Error("re-rendered form has no CSRF field")
			}
		})
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "registration refused"); n != 11 || !strings.Contains(logs, `reason="invalid password"`) ||
		!strings.Contains(logs, `reason="invalid user"`) || strings.Contains(logs, "a fine password") || strings.Contains(logs, "xxBOBxx") {
		t.Errorf("%d refusal log lines, want 11 with reasons and no password:\n%s", n, logs)
	}
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("accounts created: %v", got)
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d, want 0", n)
	}
	pageWantStatus(t, e.get("/invite?"+c.Token), 200, "landing after failed attempts")
}

func TestRegisterKeepsTypedUsername(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	rec := e.register(c.Token, `dave"><script>`, "a fine password", "a fine password")
	pageWantStatus(t, rec, 422, "bad username")
	body := rec.Body.String()
	if strings.Contains(body, `"><script>`) {
		t.Error("username is not escaped")
	}
	if !strings.Contains(body, `value="dave&#34;&gt;&lt;script&gt;"`) {
		t.Errorf("typed username not kept")
	}
}

func TestRegisterLinkDown(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	csrf := e.csrf(c.Token)
	form := url.Values{"csrf": {csrf}, "user": {"bob"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}

	for _, state := range []string{"down", "disabled"} {
		e.link.setState(state)
		rec := e.postForm(c.Token, form, nil)
		pageWantStatus(t, rec, 503, "POST with link "+state)
		if text := pageText(rec.Body.String()); !strings.Contains(text, "try again in a minute") {
			t.Errorf("no try-again message:\n%s", text)
		}
		if rec.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		pageWantStatus(t, e.get("/register?t="+c.Token), 503, "GET form with link "+state)
	}
	// The link drops between the state check and the account creation.
	e.link.setState("up")
	e.link.createErr = invites.ErrLinkDown
	pageWantStatus(t, e.postForm(c.Token, form, nil), 503, "POST when creation finds the link down")
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d, want 0", n)
	}
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("created %v", got)
	}
	e.link.createErr = nil
	pageWantStatus(t, e.postForm(c.Token, form, nil), 200, "POST once the link is back")
}

func TestRegisterInUse(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	csrf := e.csrf(c.Token)
	if _, err := e.store.ReserveUse(context.Background(), c.Token, keystore.Hold{JID: "someone@example.com", Owner: "test", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	rec := e.postForm(c.Token, url.Values{"csrf": {csrf}, "user": {"bob"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}, nil)
	pageWantStatus(t, rec, 409, "POST while another redemption holds the use")
	if text := pageText(rec.Body.String()); !strings.Contains(text, "Someone is using this invite right now") {
		t.Errorf("no in-use message:\n%s", text)
	}
	if !strings.Contains(rec.Body.String(), `value="bob"`) {
		t.Error("username not kept")
	}
}

func TestRegisterCSRF(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	pw := "a fine password"
	other := e.invite(invites.Request{})
	for i, tc := range []struct {
		name   string
		csrf   func(token string) string
		header http.Header
		status int
	}{
		{"missing", func(string) string { return "" }, nil, 403},
		{"garbage", func(string) string { return "not-a-token" }, nil, 403},
		{"tampered", func(tok string) string {
			s := []byte(e.csrf(tok))
			s[len(s)-3] ^= 1 // a different base64url character
			return string(s)
		}, nil, 403},
		{"timestamp changed", func(tok string) string {
			ts, mac, _ := strings.Cut(e.csrf(tok), ".")
			n, _ := strconv.ParseInt(ts, 36, 64)
			return strconv.FormatInt(n+1, 36) + "." + mac
		}, nil, 403},
		{"other invite's", func(string) string { return e.csrf(other.Token) }, nil, 403},
		{"foreign Origin", e.csrf, http.Header{"Origin": {"https://evil.example"}}, 403},
		{"cross-site fetch", e.csrf, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"same-site fetch", e.csrf, http.Header{"Sec-Fetch-Site": {"same-site"}}, 403},
		{"null Origin, same-origin fetch", e.csrf, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}}, 200},
		{"public URL Origin", e.csrf, http.Header{"Origin": {pagePublic}}, 200},
		{"Host Origin", e.csrf, http.Header{"Origin": {"http://example.com"}}, 200},
		{"no Origin", e.csrf, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.invite(invites.Request{})
			user := fmt.Sprintf("user%d", i)
			rec := e.postForm(c.Token, url.Values{"csrf": {tc.csrf(c.Token)}, "user": {user}, "password": {pw}, "password_confirm": {pw}}, tc.header)
			pageWantStatus(t, rec, tc.status, tc.name)
			if tc.status == 403 && e.uses(c.Invite.ID) != 0 {
				t.Error("refused submission used the invite")
			}
		})
	}

	t.Run("expired form", func(t *testing.T) {
		c := e.invite(invites.Request{TTL: 7 * 24 * time.Hour})
		csrf := e.csrf(c.Token)
		e.clock.Add(13 * time.Hour)
		rec := e.postForm(c.Token, url.Values{"csrf": {csrf}, "user": {"late"}, "password": {pw}, "password_confirm": {pw}}, nil)
		pageWantStatus(t, rec, 403, "form older than 12h")
		if text := pageText(rec.Body.String()); !strings.Contains(text, "Please submit the form again") {
			t.Errorf("unclear 403 page:\n%s", text)
		}
	})
}

func TestRegisterConcurrentSingleUse(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.delay = 20 * time.Millisecond
	c := e.invite(invites.Request{})
	csrf := e.csrf(c.Token)
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			form := url.Values{"csrf": {csrf}, "user": {fmt.Sprintf("racer%d", i)}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}
			codes[i] = e.postForm(c.Token, form, nil).Code
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, code := range codes {
		count[code]++
	}
	if count[200] != 1 || count[409]+count[410] != n-1 {
		t.Errorf("statuses %v, want one 200 and the rest 409 or 410", count)
	}
	if got := e.link.createdAccounts(); len(got) != 1 {
		t.Errorf("accounts created %v, want exactly one", got)
	}
	if u := e.uses(c.Invite.ID); u != 1 {
		t.Errorf("uses %d, want 1", u)
	}
}

func TestRegisterResetInvite(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.accounts["bob"] = "forgotten"
	c := e.invite(invites.Request{Type: keystore.TypeReset, Username: "bob"})

	land := e.get("/invite?" + c.Token)
	pageWantStatus(t, land, 200, "reset landing")
	if strings.Contains(land.Body.String(), "preauth") || land.Header().Get("Link") != "" {
		t.Error("reset landing offers the register URI")
	}
	if text := pageText(land.Body.String()); !strings.Contains(text, "Set a new password for bob@example.com") {
		t.Errorf("reset landing:\n%s", text)
	}

	rec := e.get("/register?t=" + c.Token)
	pageWantStatus(t, rec, 200, "reset form")
	if strings.Contains(rec.Body.String(), `name="user"`) {
		t.Error("reset form asks for a username")
	}
	if !strings.Contains(pageText(rec.Body.String()), "bob@example.com") {
		t.Error("reset form does not show the account")
	}
	form := url.Values{"csrf": {e.csrf(c.Token)}, "user": {"mallory"}, "password": {"brand new secret"}, "password_confirm": {"brand new secret"}}
	rec = e.postForm(c.Token, form, nil)
	pageWantStatus(t, rec, 200, "reset POST")
	if len(e.link.changed) != 1 || e.link.changed[0] != "bob" || e.link.accounts["bob"] != "brand new secret" {
		t.Errorf("ChangePassword calls %v, want [bob] with the new password", e.link.changed)
	}
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("reset created accounts %v", got)
	}
	if text := pageText(rec.Body.String()); !strings.Contains(text, "Your password is changed") || strings.Contains(text, "brand new secret") {
		t.Errorf("reset success page:\n%s", text)
	}
	if len(e.link.notified) != 0 {
		t.Errorf("reset notified %v", e.link.notified)
	}
}

func TestRegisterFixedUsername(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{Username: "Carol"})
	rec := e.get("/register?t=" + c.Token)
	pageWantStatus(t, rec, 200, "fixed-username form")
	if strings.Contains(rec.Body.String(), `name="user"`) {
		t.Error("fixed-username form asks for a username")
	}
	if !strings.Contains(pageText(rec.Body.String()), "Your address will be carol@example.com") {
		t.Error("form does not show the fixed address")
	}
	form := url.Values{"csrf": {e.csrf(c.Token)}, "user": {"mallory"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}
	pageWantStatus(t, e.postForm(c.Token, form, nil), 200, "fixed-username POST")
	if got := e.link.createdAccounts(); len(got) != 1 || got[0] != "carol" {
		t.Errorf("created %v, want [carol]", got)
	}

	// When the fixed account exists already, the page says so.
	e.link.accounts["dave"] = "x"
	d := e.invite(invites.Request{Username: "dave"})
	form["csrf"] = []string{e.csrf(d.Token)}
	rec = e.postForm(d.Token, form, nil)
	pageWantStatus(t, rec, 409, "fixed username taken")
	if !strings.Contains(pageText(rec.Body.String()), "already exists") {
		t.Error("no clear message for an existing fixed account")
	}
}

func TestRegisterMultiUse(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{Uses: 3})
	if text := pageText(e.get("/invite?" + c.Token).Body.String()); !strings.Contains(text, "Uses left 3") {
		t.Errorf("landing does not show uses left:\n%s", text)
	}
	for i := range 3 {
		user := fmt.Sprintf("member%d", i)
		pageWantStatus(t, e.register(c.Token, user, "a fine password", "a fine password"), 200, "registration "+user)
	}
	pageWantStatus(t, e.get("/invite?"+c.Token), 410, "landing after 3 uses")
	pageWantStatus(t, e.get("/register?t="+c.Token), 410, "form after 3 uses")
	if got := e.link.createdAccounts(); len(got) != 3 {
		t.Errorf("created %v, want 3 accounts", got)
	}
}

func TestRegisterContactInvite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		friendErr  error
		want       string
		wantAddURI bool
	}{
		{"befriended", nil, "You and alice@example.com are now contacts", false},
		{"no roster permission", invites.ErrUnsupported, "One more step: once you're signed in, add alice@example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPageEnv(t, pagePublic)
			e.link.friendErr = tc.friendErr
			c := e.invite(invites.Request{Type: keystore.TypeContact, Username: "alice", Creator: "xmpp:alice@example.com", AllowRegister: true})
			rec := e.get("/register?t=" + c.Token)
			pageWantStatus(t, rec, 200, "contact form")
			if !strings.Contains(rec.Body.String(), `name="user"`) {
				t.Error("contact registration form has no username field")
			}
			rec = e.register(c.Token, "bob", "a fine password", "a fine password")
			pageWantStatus(t, rec, 200, "contact registration")
			body := rec.Body.String()
			if text := pageText(body); !strings.Contains(text, tc.want) {
				t.Errorf("success page lacks %q:\n%s", tc.want, text)
			}
			if got := strings.Contains(body, `href="xmpp:alice@example.com?roster"`); got != tc.wantAddURI {
				t.Errorf("roster link present: %v, want %v", got, tc.wantAddURI)
			}
			if strings.Contains(body, c.Token) {
				t.Error("success page repeats the invite token")
			}
		})
	}
}

func TestRegisterClientChoice(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	rec := e.get("/register?t=" + c.Token + "&c=conversations")
	pageWantStatus(t, rec, 200, "form with client")
	if !strings.Contains(rec.Body.String(), `<option value="conversations" selected>`) {
		t.Error("chosen client not preselected")
	}
	csrf := pageCSRFRe.FindStringSubmatch(rec.Body.String())[1]
	form := url.Values{"csrf": {html.UnescapeString(csrf)}, "user": {"erin"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}, "c": {"conversations"}}
	rec = e.postForm(c.Token, form, nil)
	pageWantStatus(t, rec, 200, "POST with client")
	body := rec.Body.String()
	text := pageText(body)
	for _, want := range []string{"Install Conversations", "Open Conversations and choose to sign in", "erin@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("success page lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(body, `href="https://f-droid.org/packages/eu.siacs.conversations/"`) {
		t.Error("no download link for the chosen client")
	}
	if strings.Contains(text, "Get an app") {
		t.Error("full app list shown although a client was chosen")
	}
	// An unknown choice falls back to the list.
	d := e.invite(invites.Request{})
	form = url.Values{"csrf": {e.csrf(d.Token)}, "user": {"frank"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}, "c": {"<nope>"}}
	rec = e.postForm(d.Token, form, nil)
	pageWantStatus(t, rec, 200, "POST with unknown client")
	if !strings.Contains(pageText(rec.Body.String()), "Get an app") {
		t.Error("no app list for an unknown client choice")
	}
}

func TestPageHeaders(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	d := e.invite(invites.Request{})
	pw := "a fine password"
	for _, tc := range []struct {
		name string
		rec  func() *httptest.ResponseRecorder
	}{
		{"landing", func() *httptest.ResponseRecorder { return e.get("/invite?" + c.Token) }},
		{"landing 404", func() *httptest.ResponseRecorder { return e.get("/invite?nope") }},
		{"register form", func() *httptest.ResponseRecorder { return e.get("/register?t=" + c.Token) }},
		{"register error", func() *httptest.ResponseRecorder { return e.register(c.Token, "bob", "x", "x") }},
		{"register 403", func() *httptest.ResponseRecorder { return e.postForm(c.Token, url.Values{}, nil) }},
		{"register success", func() *httptest.ResponseRecorder { return e.register(d.Token, "bob", pw, pw) }},
		{"405", func() *httptest.ResponseRecorder {
			return e.do(httptest.NewRequest(http.MethodDelete, "/register?t="+c.Token, nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec()
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "img-src 'self' data:", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q allows more than it needs", csp)
			}
			for k, want := range map[string]string{
				"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
				"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			// The inline stylesheet is exactly what the CSP hash allows.
			m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(rec.Body.String())
			if m == nil {
				t.Fatal("no inline stylesheet")
			}
			sum := sha256.Sum256([]byte(m[1]))
			if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
				t.Errorf("CSP does not allow the page's stylesheet %s", want)
			}
			if strings.Contains(rec.Body.String(), "<script") || strings.Contains(rec.Body.String(), " style=") {
				t.Error("page has a script or a style attribute the CSP would block")
			}
		})
	}
}

func TestPagesMalformedInput(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{})
	csrf := e.csrf(c.Token)
	huge := strings.Repeat("a", 20<<10)
	reqs := []*http.Request{
		httptest.NewRequest("GET", "/invite?%zz", nil),
		httptest.NewRequest("GET", "/invite?"+huge, nil),
		httptest.NewRequest("GET", "/invite?&&&", nil),
		httptest.NewRequest("GET", "/invite/"+strings.Repeat("%00", 30), nil),
		httptest.NewRequest("GET", "/invite/%2e%2e", nil),
		httptest.NewRequest("HEAD", "/invite?"+c.Token, nil),
		httptest.NewRequest("POST", "/invite?"+c.Token, nil),
		httptest.NewRequest("PUT", "/invite/"+c.Token, nil),
		httptest.NewRequest("GET", "/register", nil),
		httptest.NewRequest("GET", "/register?t=", nil),
		httptest.NewRequest("GET", "/register?t=%zz", nil),
		httptest.NewRequest("GET", "/register?t="+huge, nil),
		httptest.NewRequest("GET", "/register?t="+c.Token+"&c="+huge, nil),
		httptest.NewRequest("POST", "/register", strings.NewReader("user=x")),
		httptest.NewRequest("POST", "/register?t="+c.Token, nil),
		httptest.NewRequest("POST", "/register?t="+c.Token, strings.NewReader("%%%")),
		httptest.NewRequest("DELETE", "/register?t="+c.Token, nil),
		httptest.NewRequest("OPTIONS", "/register?t="+c.Token, nil),
	}
	for _, body := range []string{
		"%zz=1",
		"csrf=" + url.QueryEscape(csrf) + "&user=%ff%fe&password=%00%00%00%00%00%00%00%00&password_confirm=%00%00%00%00%00%00%00%00",
		"csrf=" + url.QueryEscape(csrf) + "&user=a&user=b&password=x&password=y",
		"csrf=" + url.QueryEscape(csrf) + "&password=" + strings.Repeat("x", 17<<10),
		"csrf=" + url.QueryEscape(csrf),
		"csrf=" + strings.Repeat(".", 5000),
	} {
		for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""} {
			r := httptest.NewRequest("POST", "/register?t="+c.Token, strings.NewReader(body))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			reqs = append(reqs, r)
		}
	}
	for _, r := range reqs {
		rec := e.do(r)
		if rec.Code >= 500 || rec.Code < 400 && r.Method != "GET" && r.Method != "HEAD" {
			t.Errorf("%s %.80s: status %d\n%.300s", r.Method, r.URL.String(), rec.Code, pageText(rec.Body.String()))
		}
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("malformed requests used the invite %d times", n)
	}
	if got := e.link.createdAccounts(); len(got) != 0 {
		t.Errorf("malformed requests created %v", got)
	}
	if logs := e.logs.String(); strings.Contains(logs, c.Token) {
		t.Errorf("logs contain the token:\n%s", logs)
	}
}

func TestRegisterExpiredMidway(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{TTL: time.Hour})
	csrf := e.csrf(c.Token)
	e.clock.Add(2 * time.Hour)
	rec := e.postForm(c.Token, url.Values{"csrf": {csrf}, "user": {"late"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}, nil)
	pageWantStatus(t, rec, 410, "POST after expiry")
	if !strings.Contains(pageText(rec.Body.String()), "expired") {
		t.Error("410 page does not say expired")
	}
}

// Errors from the XMPP server that are not the person's fault give a page
// that says so, consume nothing and log the cause.
func TestRegisterServerError(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.createErr = errors.New("iq error: internal-server-error")
	c := e.invite(invites.Request{})
	rec := e.register(c.Token, "bob", "a fine password", "a fine password")
	if rec.Code < 500 {
		t.Errorf("status %d for a server failure, want 5xx", rec.Code)
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d, want 0", n)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "internal-server-error") || strings.Contains(logs, c.Token) {
		t.Errorf("logs should name the cause but not the token:\n%s", logs)
	}
}

// A refusal by the XMPP server (an error note, missing admin rights) is a
// 502 that says the chat server refused, and consumes nothing.
func TestRegisterServerRefused(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	e.link.createErr = fmt.Errorf("the server answered: Permission denied (%w)", invites.ErrRefused)
	c := e.invite(invites.Request{})
	rec := e.register(c.Token, "bob", "a fine password", "a fine password")
	pageWantStatus(t, rec, 502, "POST refused by the server")
	if text := pageText(rec.Body.String()); !strings.Contains(text, "refused") || !strings.Contains(text, "nothing was used up") {
		t.Errorf("no refusal message:\n%s", text)
	}
	if n := e.uses(c.Invite.ID); n != 0 {
		t.Errorf("uses %d, want 0", n)
	}
}

// The landing page cache never outlives the invite's state: a use shows at
// once, and a revoked invite is 410 even right after a cached view.
func TestLandingCacheFollowsState(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	c := e.invite(invites.Request{Uses: 3})
	path := "/invite?" + c.Token
	for i := 0; i < 2; i++ {
		rec := e.get(path)
		pageWantStatus(t, rec, 200, "landing")
		if text := pageText(rec.Body.String()); !strings.Contains(text, "Uses left 3") {
			t.Fatalf("view %d: want 3 uses left:\n%s", i, text)
		}
	}
	pageWantStatus(t, e.register(c.Token, "bob", "a fine password", "a fine password"), 200, "register")
	if text := pageText(e.get(path).Body.String()); !strings.Contains(text, "Uses left 2") {
		t.Fatalf("after one use: want 2 uses left:\n%s", text)
	}
	if _, err := e.store.RevokeInvite(context.Background(), c.Invite.ID); err != nil {
		t.Fatal(err)
	}
	pageWantStatus(t, e.get(path), 410, "landing of a revoked invite after cached views")
}

// The same form sent again after it succeeded (a reload of the success
// page, a double click) shows the success page again instead of "already
// used" or "taken", creates nothing and counts nothing; another name, or
// the same one much later, gets the usual answer.
func TestRegisterResubmission(t *testing.T) {
	e := newPageEnv(t, pagePublic)
	for _, uses := range []int{1, 3} {
		c := e.invite(invites.Request{Uses: uses})
		form := url.Values{"csrf": {e.csrf(c.Token)}, "user": {"Reloader" + strconv.Itoa(uses)},
			"password": {"a fine password"}, "password_confirm": {"a fine password"}}
		pageWantStatus(t, e.postForm(c.Token, form, nil), 200, "first POST")
		jid := "reloader" + strconv.Itoa(uses) + "@example.com"
		again := e.postForm(c.Token, form, nil)
		pageWantStatus(t, again, 200, "the same POST again")
		if text := pageText(again.Body.String()); !strings.Contains(text, jid) || strings.Contains(text, "a fine password") {
			t.Errorf("resubmission page lacks %s or shows the password:\n%s", jid, text)
		}
		if n := e.uses(c.Invite.ID); n != 1 {
			t.Errorf("%d-use invite: uses %d after a resubmission, want 1", uses, n)
		}
		other := url.Values{"csrf": form["csrf"], "user": {"someoneelse"}, "password": {"a fine password"}, "password_confirm": {"a fine password"}}
		if uses == 1 {
			pageWantStatus(t, e.postForm(c.Token, other, nil), 410, "another name on a used invite")
		}
		e.clock.Add(11 * time.Minute) // past the 10-minute resubmission window
		want := 410
		if uses > 1 {
			want = 409 // the name is taken now
		}
		pageWantStatus(t, e.postForm(c.Token, form, nil), want, "the same POST long after")
	}
	if got := e.link.createdAccounts(); len(got) != 2 {
		t.Errorf("accounts created %v, want 2", got)
	}
}
