package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmpp-invites/internal/xmpptest"
)

// sharedHost is the second virtual host of the shared-link tests.
const sharedHost = "other.test"

// TestSharedLink runs one serve for two domains of one real server
// (Prosody, ejabberd) through one component link: check connects once and
// reports both domains' rights and XEP-0356 privileges; an invite of each domain makes an account
// on its own domain; a key of one domain is a bad key on the other; an
// in-band command of a user of the second domain is answered for that
// domain; the admin /readyz lists both.
func TestSharedLink(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.Start(t, kind, xmpptest.Options{Hosts: []string{sharedHost}, Privilege: true})
			in := newSharedLinkInstance(t, srv)
			domains := map[string]string{"a": srv.Domain, "b": sharedHost}
			creds := map[string]string{}
			for p, d := range domains {
				cred, errs, code := in.cli("key", "create", d, "key of "+d)
				if code != 0 {
					t.Fatalf("key create %s: %d %s", d, code, errs)
				}
				creds[p] = strings.TrimSpace(cred)
			}

			out, errs, code := in.cli("check")
			for _, want := range []string{
				fmt.Sprintf("component of %s, %s: connected to %s as %s (one link for 2 domains)\n", srv.Domain, sharedHost, srv.ComponentAddr, srv.ComponentJID),
				"account creation on " + srv.Domain + " (XEP-0133 add-user): permitted\n",
				"account creation on " + sharedHost + " (XEP-0133 add-user): permitted\n",
				"privilege on " + srv.Domain + " (XEP-0356 ",
				"privilege on " + sharedHost + " (XEP-0356 ",
			} {
				if code != 0 || !strings.Contains(out, want) {
					t.Errorf("check: exit %d, want 0 and %q in:\n%s%s", code, want, out, errs)
				}
			}
			if n := strings.Count(out, "connected to"); n != 1 {
				t.Errorf("check connected %d times, want once for the one link:\n%s", n, out)
			}

			in.start()
			waitDomainsReady(t, in, srv.Domain, sharedHost)

			tokens := map[string]string{}
			for p, d := range domains {
				code, body := postInvite(t, in, "/"+p+"/invites_api", creds[p])
				var inv struct{ Token string }
				if json.Unmarshal([]byte(body), &inv); code != http.StatusCreated || inv.Token == "" {
					t.Fatalf("invite of %s: %d %s", d, code, body)
				}
				tokens[p] = inv.Token
				user, pw := "new"+p, "pw-"+p+"-0123456789"
				if code, page := registerAt(t, in, "/"+p, inv.Token, user, pw); code != http.StatusOK || !strings.Contains(page, user+"@"+d) {
					t.Fatalf("register %s@%s: %d\n%s\nlog:\n%s", user, d, code, pageTextOf(page), in.stderr)
				}
				if !canLoginAt(t, srv, user+"@"+d, pw) {
					t.Errorf("%s@%s cannot log in after registering on %s's page", user, d, d)
				}
				other := domains[map[string]string{"a": "b", "b": "a"}[p]]
				if canLoginAt(t, srv, user+"@"+other, pw) {
					t.Errorf("%s's invite made an account on %s too", d, other)
				}
			}
			_, wrongKey := postInvite(t, in, "/a/invites_api", "AAAAAAAAAAAA/"+strings.Repeat("A", 43))
			for _, p := range [][2]string{{"a", "b"}, {"b", "a"}} {
				if code, body := postInvite(t, in, "/"+p[1]+"/invites_api", creds[p[0]]); code != http.StatusUnauthorized || body != wrongKey {
					t.Errorf("key of %s on /%s/invites_api: %d %q, want 401 as any bad key %q", p[0], p[1], code, body, wrongKey)
				}
			}

			// A user of the second domain, an admin of it, runs the
			// XEP-0401 command: the invite is that domain's.
			boss := "boss@" + sharedHost
			srv.Register(t, boss, "boss-password-1")
			c := (&attached{instance: in, srv: srv}).client(t, boss, "boss-password-1")
			landing := c.createAccountInvite(t, srv.ComponentJID)
			_, port, _ := net.SplitHostPort(in.addr)
			if !strings.HasPrefix(landing, "http://localhost:"+port+"/b/invite?") {
				t.Fatalf("in-band invite of %s: %q, want a link under /b", boss, landing)
			}
			_, token, _ := strings.Cut(landing, "/invite?")
			if code, _ := httpGet(t, "http://"+in.addr+"/a/invite?"+token); code != http.StatusNotFound {
				t.Errorf("in-band invite of %s on %s's landing page: %d, want 404", sharedHost, srv.Domain, code)
			}
			if code, page := registerAt(t, in, "/b", token, "fromband", "secret-in-band-0123"); code != http.StatusOK || !strings.Contains(page, "fromband@"+sharedHost) {
				t.Fatalf("register with the in-band invite: %d\n%s", code, pageTextOf(page))
			}
			if !canLoginAt(t, srv, "fromband@"+sharedHost, "secret-in-band-0123") {
				t.Error("the account of the in-band invite cannot log in")
			}
			if code := in.stop(); code != 0 {
				t.Errorf("serve exited %d: %s", code, in.stderr)
			}
		})
	}
}

// newSharedLinkInstance configures xmpp-invites for srv's two hosts, at
// /a (srv.Domain) and /b (sharedHost, whose admin is boss@sharedHost),
// with one top-level [component] for both.
func newSharedLinkInstance(t *testing.T, srv *xmpptest.Server) *instance {
	t.Helper()
	dir := t.TempDir()
	addr, admin := freePort(t), freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "xmpp-invites.toml")
	content := fmt.Sprintf(`database = %q
log_level = "debug"
[http]
listen = %q
admin_listen = %q
[component]
jid = %q
server = %q
secret = %q
ping_interval = "5s"
[[domains]]
domain = %q
public_url = "http://localhost:%s/a"
[[domains]]
domain = %q
public_url = "http://localhost:%s/b"
admins = ["boss@%s"]
`, filepath.Join(dir, "invites.db"), addr, admin, srv.ComponentJID, srv.ComponentAddr, srv.Secret,
		srv.Domain, port, sharedHost, port, sharedHost)
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, dir: dir, config: cfg, addr: addr, admin: admin}
}

// waitDomainsReady waits until the admin /readyz lists every domain with
// its component up and account creation permitted.
func waitDomainsReady(t *testing.T, in *instance, domains ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		_, last = httpGet(t, "http://"+in.admin+"/readyz")
		var body struct {
			Domains []struct {
				Domain, Component string
				AccountCreation   string `json:"account_creation"`
			}
		}
		json.Unmarshal([]byte(last), &body)
		ready := len(body.Domains) == len(domains)
		for i, d := range body.Domains {
			ready = ready && d.Domain == domains[i] && d.Component == "up" && d.AccountCreation == "permitted"
		}
		if ready {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("admin /readyz does not show %v up with account creation: %s\nlog:\n%s", domains, last, in.stderr)
}

// postInvite POSTs to an /invites_api path of in with a bearer key.
func postInvite(t *testing.T, in *instance, path, cred string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+in.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// registerAt fills the registration form of token under prefix like a
// browser.
func registerAt(t *testing.T, in *instance, prefix, token, user, password string) (int, string) {
	t.Helper()
	target := "http://" + in.addr + prefix + "/register?t=" + url.QueryEscape(token)
	code, page := httpGet(t, target)
	m := csrfRE.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		return code, page
	}
	form := url.Values{"csrf": {m[1]}, "password": {password}, "password_confirm": {password}}
	if user != "" { // a fixed-username invite's form has no user field
		form.Set("user", user)
	}
	req, _ := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// canLoginAt reports whether the account user@host logs in to srv.
func canLoginAt(t *testing.T, srv *xmpptest.Server, addr, password string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := srv.Login(t, ctx, addr, password)
	if err != nil {
		return false
	}
	s.Close()
	return true
}
