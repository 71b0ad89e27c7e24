package component

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// wantAll fails unless text holds every one of want.
func wantAll(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s %q lacks %q", what, text, w)
		}
	}
}

// The chat word login answers users of the domain and admins with an
// unbound sign-in link that says where it was asked for, how long it is
// valid, that it works once and that ignoring it is safe; strangers get
// the usual refusal and no link is made for them.
func TestChatLogin(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	cfg := fs.config()
	cfg.Admins = append(cfg.Admins, "boss@elsewhere.test")
	cfg.SiteName = "Example Chat"
	c, err := New(cfg, m, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, c)
	fc := fs.nextConn(t)
	waitUp(t, c)

	for _, body := range []string{"login", "  LOGIN\n"} {
		wantAll(t, "answer to "+body, chat(t, fc, alice, "chat", body),
			testSignInLink, "sign in to Example Chat", "you asked for it in this chat",
			"valid for 10 minutes", "works once", "Do not pass it on", "ignore this message: nothing happens without the link")
	}
	wantAll(t, "admin of another domain", chat(t, fc, "boss@elsewhere.test/desk", "chat", "login"), testSignInLink)
	if got := chat(t, fc, stranger, "chat", "login"); !strings.Contains(got, "users of example.test only") || strings.Contains(got, testSignInLink) {
		t.Errorf("stranger: %q", got)
	}
	want := "alice@example.test chat,alice@example.test chat,boss@elsewhere.test chat"
	if got := strings.Join(m.signInRequests(), ","); got != want {
		t.Errorf("sign-in links asked for %q, want %q (bare JIDs, unbound, none for the stranger)", got, want)
	}
	// login with more words gets its usage; the help names login.
	if got := chat(t, fc, admin, "chat", "login please"); !strings.Contains(got, `Usage: login`) || strings.Contains(got, testSignInLink) {
		t.Errorf("usage: %q", got)
	}
	if got := chat(t, fc, admin, "chat", "hello"); !strings.Contains(got, `Send "login"`) || strings.Contains(got, testSignInLink) {
		t.Errorf("help: %q", got)
	}

	// Over the limit the answer says when to ask again (the oldest link's
	// hour, rounded up to the minute).
	oldest := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m.setErr(fmt.Errorf("sign-in link: %w", &keystore.LimitError{Oldest: oldest}))
	wantAll(t, "over the limit", chat(t, fc, admin, "chat", "login"),
		fmt.Sprintf("%d sign-in links in the last hour", invites.SignInsPerHour), "from 2 January 2030, 04:05 UTC")
	m.setErr(errors.New("disk on fire"))
	if got := chat(t, fc, "carol@example.test/x", "chat", "login"); !strings.Contains(got, "could not be created") || strings.Contains(got, "fire") {
		t.Errorf("store failure: %q", got)
	}
}

// The chat word login answers in the message's language.
func TestChatLoginFollowsXMLLang(t *testing.T) {
	fs := newFakeServer(t)
	_, fc := connectCatalog(t, fs, testCatalog(t, "en"), nil)
	e := chatIn(t, fc, alice, "de", "login")
	wantLang(t, e, "de")
	wantAll(t, "German answer", e.child("", "body").Text, "du hast ihn in diesem Chat angefordert", "Er gilt 10 Minuten", testSignInLink)
}

// SendSignIn writes to the bare JID in the language the user last spoke,
// else the one the page gives, and names the client address the link was
// asked from.
func TestSendSignIn(t *testing.T) {
	fs := newFakeServer(t)
	c, fc := connectCatalog(t, fs, testCatalog(t, "en"), nil)
	send := func(to, lang, from string, ttl time.Duration) *element {
		t.Helper()
		if err := c.SendSignIn(ctxT(t, 5*time.Second), to, lang, testSignInLink, from, ttl); err != nil {
			t.Fatalf("SendSignIn: %v", err)
		}
		e := fc.await(t, "sign-in message", func(e *element) bool { return e.XMLName.Local == "message" })
		if e.attr("type") != "chat" || e.attr("from") != fs.jid {
			t.Errorf("message %s: want a chat message from %s", dumpElement(e), fs.jid)
		}
		return e
	}

	e := send("alice@example.test/phone", "de-AT,en;q=0.5", "203.0.113.7", invites.SignInTTL)
	if e.attr("to") != "alice@example.test" {
		t.Errorf("sent to %q, want the bare JID", e.attr("to"))
	}
	wantLang(t, e, "de")
	wantAll(t, "German message", e.child("", "body").Text, "von 203.0.113.7 angefordert", "Er gilt 10 Minuten", testSignInLink)

	e = send("alice@example.test", "", "2001:db8::1", 30*time.Second)
	wantLang(t, e, "en")
	wantAll(t, "English message", e.child("", "body").Text,
		"sign in to example.test", "it was asked for from 2001:db8::1:\n"+testSignInLink, "valid for 1 minute and works once",
		"If you did not ask for it, ignore this message: nothing happens without the link.")

	// The language last heard from the user wins over the page's.
	chatIn(t, fc, "bob@example.test/r", "de", "help")
	e = send("bob@example.test", "en", "chat", 10*time.Minute)
	wantLang(t, e, "de")
	wantAll(t, "message to a German speaker", e.child("", "body").Text, "in diesem Chat angefordert")

	for _, bad := range []struct {
		to, link string
		ttl      time.Duration
	}{
		{"", testSignInLink, time.Minute},
		{"example.test", testSignInLink, time.Minute},
		{"a@b@c", testSignInLink, time.Minute},
		{"alice@example.test", "", time.Minute},
		{"alice@example.test", testSignInLink, 0},
	} {
		if err := c.SendSignIn(ctxT(t, time.Second), bad.to, "", bad.link, "chat", bad.ttl); err == nil {
			t.Errorf("SendSignIn(%q, link %q, %v) accepted", bad.to, bad.link, bad.ttl)
		}
	}
	fc.quiet(t, 100*time.Millisecond)
}

func TestSendSignInLinkDown(t *testing.T) {
	fs := newFakeServer(t)
	c, err := New(fs.config(), &fakeMinter{}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendSignIn(ctxT(t, time.Second), "alice@example.test", "", testSignInLink, "chat", time.Minute); !errors.Is(err, invites.ErrLinkDown) {
		t.Fatalf("SendSignIn while down: %v, want ErrLinkDown", err)
	}
}
