package component

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"xmpp-invites/i18n"
	"xmpp-invites/invites"
	"xmpp-invites/keystore"
)

// testCatalog is the real English catalogue plus the few German messages
// of testdata/locales/de.toml, with def as the default language.
func testCatalog(t *testing.T, def string) *i18n.Catalog {
	t.Helper()
	en, err := os.ReadFile("../i18n/locales/en.toml")
	if err != nil {
		t.Fatal(err)
	}
	de, err := os.ReadFile("testdata/locales/de.toml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.Load(fstest.MapFS{
		"locales/en.toml": {Data: en},
		"locales/de.toml": {Data: de},
	}, "locales", def)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// connectCatalog runs a component for fs whose Config.Catalog is cat.
func connectCatalog(t *testing.T, fs *fakeServer, cat *i18n.Catalog, m Minter) (*Component, *fakeConn) {
	t.Helper()
	if m == nil {
		m = &fakeMinter{}
	}
	cfg := fs.config()
	cfg.Catalog = cat
	c, err := New(cfg, m, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, c)
	fc := fs.nextConn(t)
	waitUp(t, c)
	return c, fc
}

// langAttr is " xml:lang='lang'", or "" for no language.
func langAttr(lang string) string {
	if lang == "" {
		return ""
	}
	return " xml:lang='" + lang + "'"
}

// chatIn sends a chat message in language lang ("" for none) and returns
// the answer.
func chatIn(t *testing.T, fc *fakeConn, from, lang, body string) *element {
	t.Helper()
	fc.send(fmt.Sprintf("<message type='chat' from='%s' to='%s'%s><body>%s</body></message>", from, fc.fs.jid, langAttr(lang), body))
	e := fc.await(t, "chat answer", func(e *element) bool { return e.XMLName.Local == "message" })
	if e.attr("to") != from || e.child("", "body") == nil {
		t.Fatalf("answer %s: want a body to %s", dumpElement(e), from)
	}
	return e
}

// iqIn sends an IQ in language lang ("" for none) and returns the answer.
func iqIn(t *testing.T, fc *fakeConn, from, lang, typ, id, payload string) *element {
	t.Helper()
	fc.send(fmt.Sprintf("<iq type='%s' from='%s' to='%s' id='%s'%s>%s</iq>", typ, from, fc.fs.jid, id, langAttr(lang), payload))
	return fc.awaitID(t, id)
}

func wantLang(t *testing.T, e *element, lang string) {
	t.Helper()
	if got := xmlLang(e.Attrs); got != lang {
		t.Errorf("xml:lang %q, want %q: %s", got, lang, dumpElement(e))
	}
}

// errorText returns the <text/> of an error stanza and its xml:lang.
func errorText(t *testing.T, e *element) (text, lang string) {
	t.Helper()
	txt := e.child("", "error").child(nsStanzas, "text")
	if txt == nil {
		t.Fatalf("error without a text: %s", dumpElement(e))
	}
	return txt.Text, xmlLang(txt.Attrs)
}

// Chat answers speak the language of the message they answer, or the
// nearest the catalogue has; without one, or with one it lacks, the
// default language.
func TestChatFollowsXMLLang(t *testing.T) {
	for _, def := range []string{"en", "de"} {
		t.Run("default "+def, func(t *testing.T) {
			fs := newFakeServer(t)
			_, fc := connectCatalog(t, fs, testCatalog(t, def), nil)
			german := "Schick „invite“, und ich antworte mit einem Link, der jemanden einlädt, mit dir auf example.test zu chatten.\n\n" +
				"Schick „login“, und ich antworte mit einem Link, der dich auf den Webseiten von example.test anmeldet, wo du Einladungen erstellen und verwalten kannst."
			english := `Send "invite" and I answer with a link that invites someone to chat with you on example.test.` + "\n\n" +
				`Send "login" and I answer with a link that signs you in to the web pages of example.test, where you can create and manage invites.`
			defText := map[string]string{"en": english, "de": german}[def]
			for i, tc := range []struct{ lang, wantLang, want string }{
				{"de", "de", german},
				{"de-AT", "de", german},
				{"en", "en", english},
				{"la", def, defText},
				{"de-" + strings.Repeat("x", maxLangLen), def, defText},
				{"", def, defText},
			} {
				t.Run("help in "+tc.lang, func(t *testing.T) {
					// A sender each: the reply limiter allows a few a minute.
					e := chatIn(t, fc, fmt.Sprintf("user%d@example.test/r", i), tc.lang, "help")
					wantLang(t, e, tc.wantLang)
					// The invite and login paragraphs, which every
					// locale has, open and close it; the other words
					// come between them.
					first, last, _ := strings.Cut(tc.want, "\n\n")
					if got := e.child("", "body").Text; !strings.HasPrefix(got, first+"\n\n") || !strings.HasSuffix(got, "\n\n"+last) {
						t.Errorf("help in %q: %q, want it to open with %q and end with %q", tc.lang, got, first, last)
					}
				})
			}
			t.Run("invite in de", func(t *testing.T) {
				e := chatIn(t, fc, "invitee@example.test/r", "de", "invite")
				wantLang(t, e, "de")
				got := e.child("", "body").Text
				for _, want := range []string{"Hier ist dein Einladungslink", "läuft am 2. Januar 2030, 03:04 UTC ab",
					"https://example.test/invite?TOKEN0123456789abcdefghi", "xmpp:invitee@example.test?roster;preauth="} {
					if !strings.Contains(got, want) {
						t.Errorf("invite answer %q lacks %q", got, want)
					}
				}
			})
		})
	}
}

// A command's form, the command names and error texts speak the IQ's
// language; the form's values stay machine values.
func TestCommandFollowsXMLLang(t *testing.T) {
	fs := newFakeServer(t)
	m := &fakeMinter{}
	_, fc := connectCatalog(t, fs, testCatalog(t, "en"), m)
	exec := "<command xmlns='" + nsCommands + "' node='" + nodeInvite + "' action='execute'/>"

	t.Run("form in de", func(t *testing.T) {
		e := iqIn(t, fc, alice, "de", "set", "de1", exec)
		wantLang(t, e, "de")
		f := resultForm(t, e)
		if f["expire"] != "2030-01-02T03:04:05Z" || f["uri"] != "xmpp:alice@example.test?roster;preauth=TOKEN0123456789abcdefghi" {
			t.Errorf("form values %q: want them as XEP-0401 writes them", f)
		}
		x := e.child(nsCommands, "command").child(nsData, "x")
		if got := x.child("", "title").Text; got != "Kontakteinladung erstellt" {
			t.Errorf("title %q", got)
		}
		labels := map[string]string{}
		for _, fl := range x.children("", "field") {
			if fl.attr("type") != "hidden" { // FORM_TYPE
				labels[fl.attr("var")] = fl.attr("label")
			}
		}
		want := map[string]string{"landing-url": "Einladungslink", "uri": "Einladungs-URI", "expire": "Gültig bis"}
		if fmt.Sprint(labels) != fmt.Sprint(want) {
			t.Errorf("labels %q, want %q", labels, want)
		}
	})
	t.Run("form in an unknown language", func(t *testing.T) {
		e := iqIn(t, fc, alice, "la", "set", "la1", exec)
		wantLang(t, e, "en")
		x := e.child(nsCommands, "command").child(nsData, "x")
		if got := x.child("", "title").Text; got != "Contact invite created" {
			t.Errorf("title %q, want the English default", got)
		}
	})
	t.Run("command list in de", func(t *testing.T) {
		e := iqIn(t, fc, alice, "de", "get", "de2", "<query xmlns='"+nsDiscoItems+"' node='"+nsCommands+"'/>")
		wantLang(t, e, "de")
		items := e.child(nsDiscoItems, "query").children("", "item")
		if len(items) != 1 || items[0].attr("name") != "Jemanden zum Chatten einladen" {
			t.Errorf("command list %s", dumpElement(e))
		}
	})
	t.Run("forbidden in de", func(t *testing.T) {
		e := iqIn(t, fc, stranger, "de", "set", "de3", exec)
		wantCondition(t, e, "forbidden")
		wantLang(t, e, "de")
		if text, lang := errorText(t, e); lang != "de" || text != "Nur Nutzer von example.test können hier Einladungen erstellen." {
			t.Errorf("error text %q in %q", text, lang)
		}
	})
	t.Run("quota note in de", func(t *testing.T) {
		m.setErr(fmt.Errorf("%w: %w", invites.ErrQuota, &keystore.LimitError{Oldest: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}))
		defer m.setErr(nil)
		e := iqIn(t, fc, alice, "de", "set", "de4", exec)
		wantType(t, e, "result")
		wantLang(t, e, "de")
		note := e.child(nsCommands, "command").child("", "note")
		want := "Du hast das Limit von 3 Einladungen pro Tag erreicht. Die nächste kannst du ab 3. Januar 2030, 03:05 UTC erstellen."
		if note == nil || note.Text != want {
			t.Errorf("quota note %s, want %q", dumpElement(e), want)
		}
	})
	t.Run("unreadable stanza in de", func(t *testing.T) {
		e := iqIn(t, fc, alice, "de", "get", "de5", "<query xmlns='"+nsDiscoInfo+"'>"+deepPayload(maxStanzaDepth)+"</query>")
		wantCondition(t, e, "policy-violation")
		wantLang(t, e, "de")
		if text, lang := errorText(t, e); lang != "de" || !strings.Contains(text, "tiefer als 32 Ebenen") {
			t.Errorf("error text %q in %q", text, lang)
		}
	})
}

// The notice that an invite was used speaks the language its inviter last
// used with the component, in a chat message or an IQ; someone never heard
// from gets the default language.
func TestNotifyJoinedFollowsLastLanguage(t *testing.T) {
	fs := newFakeServer(t)
	c, fc := connectCatalog(t, fs, testCatalog(t, "en"), nil)
	notice := func(inviter string) *element {
		t.Helper()
		if err := c.NotifyJoined(ctxT(t, 5*time.Second), inviter, "bob@example.test"); err != nil {
			t.Fatal(err)
		}
		e := fc.await(t, "notice", func(e *element) bool { return e.XMLName.Local == "message" })
		if e.attr("to") != inviter || e.attr("type") != "chat" {
			t.Errorf("notice %s: want a chat message to %s", dumpElement(e), inviter)
		}
		return e
	}
	const german = "bob@example.test ist mit deiner Einladung beigetreten"
	const english = "bob@example.test joined with your invite"

	e := notice("alice@example.test")
	wantLang(t, e, "en")
	if got := e.child("", "body").Text; got != english {
		t.Errorf("notice to someone never heard from: %q, want %q", got, english)
	}

	chatIn(t, fc, alice, "de", "help")
	e = notice("alice@example.test")
	wantLang(t, e, "de")
	if got := e.child("", "body").Text; got != german {
		t.Errorf("notice after a German chat: %q, want %q", got, german)
	}

	// An IQ in English changes it; one without xml:lang does not.
	wantType(t, iqIn(t, fc, alice, "en", "get", "p1", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	wantType(t, iqIn(t, fc, alice, "", "get", "p2", "<ping xmlns='urn:xmpp:ping'/>"), "result")
	e = notice("alice@example.test")
	wantLang(t, e, "en")
	if got := e.child("", "body").Text; got != english {
		t.Errorf("notice after an English IQ: %q, want %q", got, english)
	}

	// Strangers are not remembered: they get no notices.
	chatIn(t, fc, stranger, "de", "help")
	if c.langs.len() != 1 {
		t.Errorf("%d users remembered, want 1 (alice)", c.langs.len())
	}
}

// The memory of languages stays bounded and keeps whoever spoke last.
func TestLangMemoryBounded(t *testing.T) {
	var m langMemory
	m.set("early@example.test", "de")
	m.set("refreshed@example.test", "de")
	for i := 0; i < 3*maxLangs; i++ {
		m.set(fmt.Sprintf("u%d@example.test", i), "fr")
		if i%1000 == 0 {
			m.set("refreshed@example.test", "de")
		}
		if n := m.len(); n > maxLangs {
			t.Fatalf("%d entries after %d users, want at most %d", n, i+3, maxLangs)
		}
	}
	if _, ok := m.get("early@example.test"); ok {
		t.Error("the earliest user is still remembered after 30,000 others")
	}
	if tag, ok := m.get("refreshed@example.test"); !ok || tag != "de" {
		t.Errorf("a user heard from lately: %q, %v; want de", tag, ok)
	}
	for _, i := range []int{3*maxLangs - 1, 3*maxLangs - maxLangs/2 - 1} {
		if tag, ok := m.get(fmt.Sprintf("u%d@example.test", i)); !ok || tag != "fr" {
			t.Errorf("user %d of the last %d: %q, %v; want fr", i, maxLangs, tag, ok)
		}
	}
}
