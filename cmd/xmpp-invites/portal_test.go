package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"xmpp-invites/internal/browsertest"
)

// signInLinkRE finds the sign-in link in the component's chat message.
var signInLinkRE = regexp.MustCompile(`https?://\S+/login/confirm\?[A-Za-z0-9_-]+`)

// TestPortalBrowser signs people in through the link a real XMPP client
// receives from the component on Prosody: a person creates an invite, a
// stranger registers with it and the person sees who joined; an admin
// creates and deletes a key and revokes an invite. Screenshots of /login,
// the confirmation, /my and /admin go to the artifacts.
func TestPortalBrowser(t *testing.T) {
	a := attachWith(t, "prosody", "[invites]\nallow_user_invites = true\n")
	domain, comp := a.srv.Domain, a.srv.ComponentJID
	a.srv.Register(t, "alice", "alice-password")
	alice := a.client(t, "alice", "alice-password")
	pub := "http://" + a.addr
	ctx := browsertest.Start(t)
	page := browsertest.NewPage(t, ctx)

	signIn := func(who string, c *xmppClient, shots bool) {
		t.Helper()
		page.Run("ask for a sign-in link",
			chromedp.Navigate(pub+"/login"),
			chromedp.WaitVisible(chromedp.CSS("#address")),
			chromedp.SendKeys(chromedp.CSS("#address"), who+"@"+domain),
		)
		if shots {
			page.Shot("portal-login")
			browsertest.Axe(t, ctx, "/login")
		}
		page.Run("send", chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#sent")))
		if shots {
			page.Shot("portal-login-sent")
			browsertest.Axe(t, ctx, "/login sent")
		}
		body := c.awaitChat(t, comp)
		link := signInLinkRE.FindString(body)
		if link == "" {
			t.Fatalf("no sign-in link in the chat message %q", body)
		}
		page.Run("open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#signin-submit")))
		if got := page.Text("h1"); !strings.Contains(got, who+"@"+domain) {
			t.Errorf("confirmation page heading %q does not name %s", got, who)
		}
		if shots {
			page.Shot("portal-confirm")
			browsertest.Axe(t, ctx, "/login/confirm")
		}
		page.Run("sign in", chromedp.Click(chromedp.CSS("#signin-submit")), chromedp.WaitVisible(chromedp.CSS(".portal-bar")))
	}

	// A person signs in, creates an account invite; a stranger registers.
	signIn("alice", alice, true)
	page.Run("create an invite",
		chromedp.Navigate(pub+"/my"),
		chromedp.WaitVisible(chromedp.CSS("#create-submit")),
		chromedp.SetValue(chromedp.CSS("#type"), "account"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#link")),
	)
	page.Shot("portal-created")
	browsertest.Axe(t, ctx, "created invite")
	landing := page.Value("#link")
	token := strings.TrimPrefix(landing, pub+"/invite?")
	if token == landing || token == "" {
		t.Fatalf("created page shows %q, not a landing URL", landing)
	}
	if code, body := a.register(t, token, "stranger", "Sunny-Meadow-42"); code != 200 {
		t.Fatalf("stranger registers: %d\n%s", code, body)
	}
	if !a.canLogin(t, "stranger", "Sunny-Meadow-42") {
		t.Fatal("the stranger's account does not work")
	}
	if body := alice.awaitChat(t, comp); !strings.Contains(body, "stranger@"+domain) {
		t.Errorf("alice's notice %q does not name the new account", body)
	}
	page.Run("see who joined", chromedp.Navigate(pub+"/my"), chromedp.WaitVisible(chromedp.CSS("#invites")))
	if list := page.Text("#invites"); !strings.Contains(list, "stranger@"+domain) || !strings.Contains(list, "Used") {
		t.Errorf("/my does not show that stranger joined:\n%s", list)
	}
	page.Shot("portal-my")
	browsertest.Axe(t, ctx, "/my")
	page.Run("sign out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#error")))

	// An admin creates and deletes a key and revokes an invite.
	a.srv.Register(t, "admin", "admin-password")
	admin := a.client(t, "admin", "admin-password")
	signIn("admin", admin, false)
	page.Run("create a key",
		chromedp.Navigate(pub+"/admin/keys"),
		chromedp.WaitVisible(chromedp.CSS("#k-name")),
		chromedp.SendKeys(chromedp.CSS("#k-name"), "website"),
		chromedp.SendKeys(chromedp.CSS("#k-label"), "Our website"),
		chromedp.Click(chromedp.CSS("#key-submit")),
		chromedp.WaitVisible(chromedp.CSS("#credential")),
	)
	cred := page.Value("#credential")
	page.Shot("portal-admin-keys")
	browsertest.Axe(t, ctx, "/admin/keys")
	resp, inv := a.createInvite(cred)
	if resp.StatusCode != 201 {
		t.Fatalf("the new key cannot create invites: %d", resp.StatusCode)
	}
	keyID := cred[:strings.IndexByte(cred, '/')]
	page.Run("delete the key",
		chromedp.Click(chromedp.CSS("#key-"+keyID+" button")),
		chromedp.WaitNotPresent(chromedp.CSS("#key-"+keyID)),
	)
	if resp, _ := a.createInvite(cred); resp.StatusCode != 401 {
		t.Errorf("deleted key: status %d, want 401", resp.StatusCode)
	}
	id, _ := inv["id"].(string)
	page.Run("revoke an invite",
		chromedp.Navigate(pub+"/admin/invites?state=pending"),
		chromedp.WaitVisible(chromedp.CSS("#invite-"+id)),
		chromedp.Click(chromedp.CSS("#invite-"+id+" button")),
		chromedp.WaitNotPresent(chromedp.CSS("#invite-"+id+" button")),
	)
	if code, _ := a.get(t, "/invite?"+url.QueryEscape(inv["token"].(string))); code != http.StatusGone {
		t.Errorf("revoked invite's landing page: status %d, want 410", code)
	}
	page.Run("all invites", chromedp.Navigate(pub+"/admin/invites"), chromedp.WaitVisible(chromedp.CSS("#invites")))
	page.Shot("portal-admin-invites")
	browsertest.Axe(t, ctx, "/admin/invites")
	page.Run("audit log", chromedp.Navigate(pub+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS("#audit")))
	audit := page.Text("#audit")
	for _, want := range []string{"key.create", "key.delete", "invite.revoke"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	page.Shot("portal-admin-audit")
	browsertest.Axe(t, ctx, "/admin/audit")
}

// TestPortalSignInEjabberd signs in on ejabberd, where the sign-in link
// comes over the same component link, without a browser: the pages'
// forms posted as a browser posts them.
func TestPortalSignInEjabberd(t *testing.T) {
	a := attach(t, "ejabberd")
	a.srv.Register(t, "alice", "alice-password")
	alice := a.client(t, "alice", "alice-password")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pub := "http://" + a.addr
	get := func(u string) (int, string) {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(u string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	_, form := get(pub + "/login")
	m := csrfRE.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no form on /login:\n%s", form)
	}
	if resp := post(pub+"/login", url.Values{"csrf": {m[1]}, "address": {"alice@" + a.srv.Domain}}); resp.StatusCode != 200 {
		t.Fatalf("POST /login: %d", resp.StatusCode)
	}
	link := signInLinkRE.FindString(alice.awaitChat(t, a.srv.ComponentJID))
	if link == "" {
		t.Fatal("no sign-in link received")
	}
	code, confirm := get(link)
	m = csrfRE.FindStringSubmatch(confirm)
	if code != 200 || m == nil {
		t.Fatalf("GET link: %d", code)
	}
	if resp := post(link, url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST link: %d", resp.StatusCode)
	}
	if code, my := get(pub + "/my"); code != 200 || !strings.Contains(my, "alice@"+a.srv.Domain) {
		t.Fatalf("/my after signing in on ejabberd: %d", code)
	}
	// The chat word login sends a link that works in any browser.
	alice.say(t, a.srv.ComponentJID, "login")
	link = signInLinkRE.FindString(alice.awaitChat(t, a.srv.ComponentJID))
	if link == "" {
		t.Fatal("no link in the answer to login")
	}
	jar2, _ := cookiejar.New(nil)
	hc.Jar = jar2
	code, confirm = get(link)
	m = csrfRE.FindStringSubmatch(confirm)
	if code != 200 || m == nil {
		t.Fatalf("GET chat link: %d", code)
	}
	if resp := post(link, url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST chat link from another browser: %d", resp.StatusCode)
	}
}
