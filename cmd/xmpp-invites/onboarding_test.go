package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/roster"
	"mellium.im/xmpp/stanza"

	"xmpp-invites/internal/xmpptest"
)

// attached is an xmpp-invites binary serving beside a real XMPP server.
type attached struct {
	*instance
	srv  *xmpptest.Server
	cred string // a manage key
}

// attach starts a private server of kind and xmpp-invites attached to it.
func attach(t *testing.T, kind string) *attached { return attachWith(t, kind, "") }

// attachWith is attach with more config: TOML sections placed before
// [component].
func attachWith(t *testing.T, kind, extra string) *attached {
	t.Helper()
	return attachServer(t, xmpptest.Start(t, kind, xmpptest.Options{Admins: []string{"admin@" + xmpptest.Domain}, Privilege: true}), extra)
}

// attachServer is attachWith for a server already started.
func attachServer(t *testing.T, srv *xmpptest.Server, extra string) *attached {
	t.Helper()
	in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`admins = ["admin@%s"]
`+extra+`
[component]
jid = "%s"
server = "%s"
secret = "%s"
ping_interval = "5s"
`, srv.Domain, srv.ComponentJID, srv.ComponentAddr, srv.Secret))
	cred, errs, code := in.cli("key", "create", "--manage", srv.Domain, "onboarding")
	if code != 0 {
		t.Fatalf("key create: %s", errs)
	}
	in.start()
	a := &attached{instance: in, srv: srv, cred: strings.TrimSpace(cred)}
	a.waitComponent(t, "up", 30*time.Second)
	return a
}

// componentState reads the admin listener's /readyz.
func (a *attached) componentState() string { return componentUp(a.instance) }

func (a *attached) waitComponent(t *testing.T, state string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if a.componentState() == state {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("component not %s after %s; log:\n%s", state, within, a.stderr)
	return 0
}

// invite creates an invite over /invites_api and returns its token.
func (a *attached) invite(t *testing.T, params url.Values) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+a.addr+"/invites_api", strings.NewReader(params.Encode()))
	req.Header.Set("Authorization", "Bearer "+a.cred)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 201 || body.Token == "" {
		t.Fatalf("create invite %v: %d", params, resp.StatusCode)
	}
	return body.Token
}

func (a *attached) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// register fills the registration form of token like a browser would.
func (a *attached) register(t *testing.T, token, user, password string) (int, string) {
	t.Helper()
	return registerAt(t, a.instance, "", token, user, password)
}

func (a *attached) canLogin(t *testing.T, user, password string) bool {
	t.Helper()
	return canLoginAt(t, a.srv, user, password)
}

func TestOnboarding(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a := attach(t, kind)
			const pw = "correct horse battery"

			// Account invite: landing page, register, log in; the token is then spent.
			tok := a.invite(t, nil)
			if code, page := a.get(t, "/invite?"+tok); code != 200 || strings.Contains(page, "register;preauth") {
				t.Fatalf("landing page: %d (or offers the register URI to apps)", code)
			}
			if code, page := a.register(t, tok, "Newbie", pw); code != 200 || !strings.Contains(page, "newbie@"+a.srv.Domain) || strings.Contains(page, pw) {
				t.Fatalf("register: %d\n%s", code, page)
			}
			if !a.canLogin(t, "newbie", pw) {
				t.Fatal("the new account cannot log in")
			}
			if code, _ := a.get(t, "/invite?"+tok); code != 410 {
				t.Fatalf("used invite landing page: %d, want 410", code)
			}
			if code, _ := a.register(t, tok, "second", pw); code != 410 {
				t.Fatalf("register with used token: %d, want 410", code)
			}
			if a.canLogin(t, "second", pw) {
				t.Fatal("a used token created a second account")
			}

			// A taken username leaves the token usable.
			tok = a.invite(t, nil)
			if code, page := a.register(t, tok, "newbie", pw); code != 409 || !strings.Contains(strings.ToLower(page), "taken") {
				t.Fatalf("taken username: %d, want 409 saying taken", code)
			}
			if code, _ := a.get(t, "/invite?"+tok); code != 200 {
				t.Fatalf("token after taken username: landing %d, want 200", code)
			}
			if code, _ := a.register(t, tok, "newbie2", pw); code != 200 || !a.canLogin(t, "newbie2", pw) {
				t.Fatalf("register after taken: %d", code)
			}

			// Password reset.
			tok = a.invite(t, url.Values{"type": {"reset"}, "username": {"newbie"}})
			if code, page := a.register(t, tok, "", "a new password 42"); code != 200 {
				t.Fatalf("reset: %d\n%s", code, page)
			}
			if !a.canLogin(t, "newbie", "a new password 42") || a.canLogin(t, "newbie", pw) {
				t.Fatal("after reset: the new password must work and the old one must not")
			}

			// Contact invite: register, then inviter and invitee are contacts.
			a.srv.Register(t, "carol", pw)
			tok = a.invite(t, url.Values{"type": {"contact"}, "username": {"carol"}})
			code, page := a.register(t, tok, "dave", pw)
			if code != 200 || !a.canLogin(t, "dave", pw) {
				t.Fatalf("contact invite registration: %d\n%s", code, page)
			}
			if kind == xmpptest.Prosody {
				for _, pair := range [][2]string{{"carol", "dave"}, {"dave", "carol"}} {
					if sub := a.subscription(t, pair[0], pw, pair[1]+"@"+a.srv.Domain); sub != "both" {
						t.Errorf("%s's roster: %s has subscription %q, want both", pair[0], pair[1], sub)
					}
				}
			} else if !strings.Contains(page, "roster") {
				t.Errorf("ejabberd success page does not explain the subscription step:\n%s", page)
			}

			// In-band: an admin's ad-hoc create-account gives a landing URL that
			// works, and the admin hears when it is used.
			a.srv.Register(t, "admin", pw)
			admin := a.client(t, "admin", pw)
			landing := admin.createAccountInvite(t, a.srv.ComponentJID)
			if !strings.HasPrefix(landing, "http://"+a.addr+"/invite?") {
				t.Fatalf("create-account landing-url %q", landing)
			}
			tok = landing[strings.Index(landing, "?")+1:]
			if code, _ := a.get(t, "/invite?"+tok); code != 200 {
				t.Fatalf("in-band invite landing page: %d", code)
			}
			if code, _ := a.register(t, tok, "inband", pw); code != 200 || !a.canLogin(t, "inband", pw) {
				t.Fatalf("registration with an in-band invite: %d", code)
			}
			if body := admin.awaitChat(t, a.srv.ComponentJID); !strings.Contains(body, "inband@"+a.srv.Domain+" joined") {
				t.Fatalf("admin notification %q", body)
			}

			// 20 concurrent registrations on one single-use token.
			tok = a.invite(t, nil)
			var wg sync.WaitGroup
			codes := make([]int, 20)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], _ = a.register(t, tok, fmt.Sprintf("racer%02d", i), pw)
				}()
			}
			wg.Wait()
			created := 0
			for i := range codes {
				if a.canLogin(t, fmt.Sprintf("racer%02d", i), pw) {
					created++
				}
			}
			if created != 1 {
				t.Fatalf("20 racing registrations on one token created %d accounts (statuses %v), want exactly 1", created, codes)
			}

			// Server crash: HTTP keeps minting, registration waits (503, nothing
			// consumed), and the component comes back by itself.
			a.srv.Kill(t)
			a.waitComponent(t, "down", 30*time.Second)
			tok = a.invite(t, nil)
			if code, _ := a.register(t, tok, "during", pw); code != 503 {
				t.Fatalf("registration while the server is down: %d, want 503", code)
			}
			a.srv.Restart(t)
			back := a.waitComponent(t, "up", 30*time.Second)
			t.Logf("%s: component up again %s after the server accepted connections", kind, back.Round(time.Millisecond))
			if code, _ := a.register(t, tok, "after", pw); code != 200 || !a.canLogin(t, "after", pw) {
				t.Fatalf("registration after the restart with the token tried during the outage: %d", code)
			}
			if code := a.stop(); code != 0 {
				t.Fatalf("serve exit status %d: %s", code, a.stderr)
			}
			if strings.Contains(a.stderr.String(), a.srv.Secret) || strings.Contains(a.stderr.String(), pw) {
				t.Fatal("the component secret or a password reached the log")
			}
		})
	}
}

// subscription logs in as user and returns the subscription of contact.
func (a *attached) subscription(t *testing.T, user, password, contact string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := a.srv.Login(t, ctx, user, password)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	defer s.Close()
	go s.Serve(nil)
	iter := roster.Fetch(ctx, s)
	defer iter.Close()
	for iter.Next() {
		if it := iter.Item(); it.JID.String() == contact {
			return it.Subscription
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("roster of %s: %v", user, err)
	}
	return ""
}

func TestWrongSecretExitsTwo(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.Prosody, xmpptest.Options{})
	in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`[component]
jid = "%s"
server = "%s"
secret = "not-the-secret"
`, srv.ComponentJID, srv.ComponentAddr))
	start := time.Now()
	_, errs, code := in.cli("serve")
	if code != 2 || !strings.Contains(errs, "component.secret") {
		t.Fatalf("serve with a wrong secret: exit %d, stderr:\n%s\nwant exit 2 naming component.secret", code, errs)
	}
	if attempts := strings.Count(errs, "handshake"); attempts > 3 {
		t.Errorf("%d handshake attempts logged: a wrong secret must not be retried", attempts)
	}
	t.Logf("serve exited %s after start with: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(errs[strings.LastIndex(strings.TrimSpace(errs), "\n")+1:]))
}

func TestCheckCommand(t *testing.T) {
	for _, kind := range []string{xmpptest.Prosody, xmpptest.Ejabberd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := xmpptest.Start(t, kind, xmpptest.Options{Privilege: true})
			in := newInstanceFor(t, srv.Domain, fmt.Sprintf(`[component]
jid = "%s"
server = "%s"
secret = "%s"
`, srv.ComponentJID, srv.ComponentAddr, srv.Secret))
			out, errs, code := in.cli("check")
			if code != 0 {
				t.Fatalf("check: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			for _, want := range []string{"config: ok", "database: ok", "account creation (XEP-0133 add-user): permitted", "roster=both"} {
				if !strings.Contains(out, want) {
					t.Errorf("check output lacks %q:\n%s", want, out)
				}
			}
			srv.Stop()
			if _, errs, code := in.cli("check"); code != 1 || !strings.Contains(errs, "Error: component") {
				t.Errorf("check with the server stopped: exit %d stderr %q, want 1", code, errs)
			}
		})
	}
}

// xmppClient is a logged-in user whose Serve loop collects chat bodies.
type xmppClient struct {
	s     *xmpp.Session
	chats chan [2]string // from, body
}

func (a *attached) client(t *testing.T, user, password string) *xmppClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := a.srv.Login(t, ctx, user, password)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	c := &xmppClient{s: s, chats: make(chan [2]string, 16)}
	if err := s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	go s.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if start.Name.Local != "message" {
			return nil
		}
		var m struct {
			From string `xml:"from,attr"`
			Body string `xml:"body"`
		}
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(start.Copy()), r)).Decode(&m); err == nil && m.Body != "" {
			select {
			case c.chats <- [2]string{m.From, m.Body}:
			default:
			}
		}
		return nil
	}))
	return c
}

// createAccountInvite completes urn:xmpp:invite#create-account at once (no
// form: XEP-0401 0.6.0 lets a client skip it) and returns
// the landing-url field of the result form.
func (c *xmppClient) createAccountInvite(t *testing.T, component string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: "http://jabber.org/protocol/commands", Local: "command"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: "urn:xmpp:invite#create-account"}, {Name: xml.Name{Local: "action"}, Value: "complete"}},
	})
	resp, err := c.s.SendIQ(ctx, stanza.IQ{Type: stanza.SetIQ, To: jid.MustParse(component)}.Wrap(cmd))
	if err != nil {
		t.Fatalf("create-account: %v", err)
	}
	defer resp.Close()
	var reply struct {
		Type    string `xml:"type,attr"`
		Command struct {
			Status string `xml:"status,attr"`
			Fields []struct {
				Var   string `xml:"var,attr"`
				Value string `xml:"value"`
			} `xml:"x>field"`
		} `xml:"command"`
	}
	if err := xml.NewTokenDecoder(resp).Decode(&reply); err != nil {
		t.Fatalf("create-account reply: %v", err)
	}
	for _, f := range reply.Command.Fields {
		if f.Var == "landing-url" && reply.Type == "result" && reply.Command.Status == "completed" {
			return f.Value
		}
	}
	t.Fatalf("create-account reply without landing-url: %+v", reply)
	return ""
}

// say sends a chat message.
func (c *xmppClient) say(t *testing.T, to, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	msg := stanza.Message{To: jid.MustParse(to), Type: stanza.ChatMessage}
	if err := c.s.Send(ctx, msg.Wrap(xmlstream.Wrap(xmlstream.Token(xml.CharData(body)), xml.StartElement{Name: xml.Name{Local: "body"}}))); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

// awaitChat returns the body of the next chat message from a bare JID.
func (c *xmppClient) awaitChat(t *testing.T, from string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-c.chats:
			if m[0] == from || strings.HasPrefix(m[0], from+"/") {
				return m[1]
			}
		case <-timeout:
			t.Fatalf("no chat message from %s within 15s", from)
			return ""
		}
	}
}
